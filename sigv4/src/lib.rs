//! AWS Signature Version 4 for kubecs: canonical request, string to sign, signing-key
//! derivation and constant-time verification. Pure functions, no I/O, so the server's
//! verifier and the benchmark's signer share one implementation.

//! The plain, framework-free description of an HTTP request that the signer and the verifier
//! read. The server builds one from its `http::Request` after buffering the body; nothing here
//! depends on an HTTP library.

use std::fmt;

/// One request, borrowed. `path` and `query` are exactly as received on the wire (still
/// percent-encoded; no `?`); headers keep their order and repeats, values as raw bytes.
#[derive(Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method, e.g. `POST`.
    pub method: &'a str,
    /// The path, e.g. `/`.
    pub path: &'a str,
    /// The raw query string, if any.
    pub query: Option<&'a str>,
    /// Every header, in order, names in any case.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The complete body.
    pub body: &'a [u8],
}

impl fmt::Debug for RequestParts<'_> {
    // Header values can carry a session token; show names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("RequestParts")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query.map(|q| q.len()))
            .field("header_names", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

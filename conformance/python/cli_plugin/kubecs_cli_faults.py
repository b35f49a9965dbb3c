"""An aws CLI plugin (loaded through the CLI's `[plugins]` config section) that makes the
real CLI send the faulty requests the SigV4 tests need. Chosen by KUBECS_CLI_FAULT:

- `clock-offset-secs=<n>`: sign as if the clock were <n> seconds off.
- `signing-name=<service>`: sign for another service's credential scope.
- `tamper-body=<old>:<new>`: after signing, replace <old> with <new> (same length) in the body.
"""

import datetime
import os

import botocore.auth


def awscli_initialize(cli):
    kind, _, arg = os.environ.get("KUBECS_CLI_FAULT", "").partition("=")
    if kind == "clock-offset-secs":
        offset = datetime.timedelta(seconds=int(arg))
        real_now = botocore.auth.get_current_datetime
        botocore.auth.get_current_datetime = lambda *a, **k: real_now(*a, **k) + offset
    elif kind == "signing-name":

        def sign_as(request, **_):
            request.context.setdefault("signing", {})["signing_name"] = arg

        cli.register("before-sign.ecs", sign_as)
    elif kind == "tamper-body":
        old, new = (part.encode() for part in arg.split(":"))
        assert len(old) == len(new)

        def tamper(request, **_):
            assert old in request.body
            request.body = request.body.replace(old, new)

        cli.register("before-send.ecs", tamper)
    elif kind:
        raise ValueError(f"unknown KUBECS_CLI_FAULT {kind!r}")

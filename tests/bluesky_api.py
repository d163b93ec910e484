"""A small Bluesky server (an AT Protocol PDS) on 127.0.0.1 for tests: the real atproto SDK talks HTTP to it.

atproto sends its requests with httpx, which `responses` cannot intercept, so this is a real HTTP server
(ThreadingHTTPServer, in a thread) answering the XRPC methods the publisher uses.  It keeps state (the account, its
sessions, blobs and post records, deleted ones marked), records every call, counts sign-ins, and lets a test make
the Nth call to a method fail:

    with BlueskyEmulator() as bsky:
        bsky.fail("com.atproto.repo.createRecord", status=503)
        bsky.fail("com.atproto.repo.createRecord", drop=True, after_effect=True)  # made the post, answer lost
        bsky.fail("com.atproto.repo.createRecord", delay=2.0, after_effect=True)  # made it, answered too late

Shapes follow the lexicons and the reference PDS (bluesky-social/atproto, packages/pds):
* createSession {identifier, password} -> {accessJwt, refreshJwt, handle, did, didDoc, email, emailConfirmed,
  active}; a wrong password is 401 AuthenticationRequired "Invalid identifier or password"; 30 per 5 minutes per
  account, then 429 RateLimitExceeded.  Access tokens are JWTs with `exp` and `scope` (com.atproto.appPass for an
  app password, com.atproto.access for the main password); refreshSession takes the refresh token.
* An access token that has run out is 400 ExpiredToken "Token has expired"; an unknown one 400 InvalidToken; none
  401 AuthMissing.
* uploadBlob takes the raw bytes with their Content-Type -> {blob: {$type: blob, ref: {$link: cid}, mimeType,
  size}}; over the server's limit 413 PayloadTooLarge.
* createRecord {repo, collection, rkey, validate, record} -> {uri, cid, commit, validationStatus}; the rkey of a
  post must be a TID; a record Bluesky will not take is 400 InvalidRequest "Invalid app.bsky.feed.post record: ...";
  a key already used is a 500 (the reference PDS's MST refuses it with an internal error).
* getRecord ?repo&collection&rkey -> {uri, cid, value}; none: 400 RecordNotFound "Could not locate record: <uri>".
* deleteRecord -> {commit} (or {} when the record was not there: a no-op).
* resolveHandle ?handle -> {did}; unknown: 400 InvalidRequest "Unable to resolve handle".
* Every answer carries ratelimit-limit, -remaining, -reset (Unix seconds) and -policy headers.
* Replies, the posts' reply settings (threadgates) and blocks, with their test controls (add_reply, is_hidden,
  rate_limit, unavailable): tests/bluesky_replies_api.py.
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.bluesky_replies_api import REPLY_ROUTES, RepliesMixin

HANDLE = "greenfieldschool.bsky.social"
DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
# Distinctive values, so a test can search logs and messages for any trace of them.
APP_PASSWORD = "k7qd-x2vm-ph4r-zt9n"
MAIN_PASSWORD = "MainPasswordDoNotLog-93"
POST = "app.bsky.feed.post"
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
MAX_BLOB_IMAGE = 1_000_000  # app.bsky.embed.images#image: the limit the gateway holds photos to
SIGN_INS_PER_5_MIN = 30


@dataclass
class Call:
    method: str
    nsid: str
    query: dict
    headers: dict
    body: bytes
    json: object = None
    status: int | None = None  # what the emulator answered (None: it dropped the connection)
    multi: dict = field(default_factory=dict)  # every value of each query parameter (getPosts repeats uris)


@dataclass
class Fault:
    status: int | None = None
    body: object = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # answer this many seconds late (past the client's timeout: the answer is lost)
    drop: bool = False  # close the connection without answering
    after_effect: bool = False  # do what the call asks before failing


class BlueskyEmulator(RepliesMixin):
    def __init__(self, *, handle: str = HANDLE, did: str = DID, app_password: str = APP_PASSWORD,
                 access_lifetime: int = 7200):
        self.handle, self.did, self.app_password = handle, did, app_password
        self.access_lifetime = access_lifetime  # seconds; under 15 minutes, the SDK renews before every call
        self.taken_down = False
        self.pds_endpoint: str | None = None  # where the didDoc says the account lives (default: this server)
        self.did_doc = True  # some servers send no didDoc: the SDK then stays where it is
        self.blob_limit = 5_000_000  # the reference PDS's default upload limit
        self.handles = {handle: did, "friends.bsky.social": "did:plc:friendsfriendsfriends01"}
        self.records: dict[str, dict] = {}
        self.blobs: dict[str, dict] = {}
        self.calls: list[Call] = []
        self.counts: Counter = Counter()
        self.faults: dict[tuple[str, int], Fault] = {}
        self.tokens: dict[str, dict] = {}  # jwt -> {"kind": access|refresh, "exp", "scope", "live"}
        self.sign_ins: list[float] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._revs = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._server.emulator = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._init_replies()

    # -- running -----------------------------------------------------------------------------------------------

    def __enter__(self) -> BlueskyEmulator:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    # -- test controls -----------------------------------------------------------------------------------------

    def fail(self, nsid: str, *, on_call: int | None = None, status: int | None = None, body=None,
             headers: dict | None = None, delay: float = 0.0, drop: bool = False, after_effect: bool = False) -> None:
        """Make the Nth call (default: the next) to `nsid` answer `status`/`body`, late, or not at all."""
        n = on_call if on_call is not None else self.counts[nsid] + 1
        self.faults[(nsid, n)] = Fault(status, body, headers or {}, delay, drop, after_effect)

    def expire_sessions(self) -> None:
        """Every access token now counts as run out on the server (the SDK still thinks them good)."""
        with self._lock:
            for token in self.tokens.values():
                token["live"] = token["kind"] != "access"

    def live_posts(self) -> dict[str, dict]:
        return {rkey: r for rkey, r in self.records.items() if not r["deleted"]}

    def calls_to(self, nsid: str) -> list[Call]:
        return [c for c in self.calls if c.nsid == nsid]

    @staticmethod
    def error(name: str, message: str) -> dict:
        return {"error": name, "message": message}

    # -- dispatch ----------------------------------------------------------------------------------------------

    def serve(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        nsid = parts.path.removeprefix("/xrpc/")
        raw = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        query = parse_qs(parts.query)
        call = Call(request.command, nsid, {k: v[-1] for k, v in query.items()},
                    {k.lower(): v for k, v in request.headers.items()}, raw, multi=query)
        if raw and request.headers.get("Content-Type", "").startswith("application/json"):
            call.json = json.loads(raw)
        with self._lock:
            self.calls.append(call)
            self.counts[nsid] += 1
            fault = self.faults.pop((nsid, self.counts[nsid]), None) or self._kind_fault(call)
            answer = None
            if fault is None or fault.after_effect or (fault.status is None and not fault.drop):
                answer = self._answer(call)  # a fault that only delays still does what was asked
        if fault is not None:
            if fault.delay:
                self._stopping.wait(fault.delay)
            if fault.drop:
                request.close_connection = True
                return
            if fault.status is not None:
                answer = (fault.status, fault.body if fault.body is not None else self.error(
                    "InternalServerError", "Internal Server Error"), fault.headers)
        call.status = answer[0]
        _send(request, *answer, self._limit_headers())

    def _answer(self, call: Call) -> tuple[int, object, dict]:
        route = _ROUTES.get((call.method, call.nsid))
        if route is None:
            return 501, self.error("MethodNotImplemented", "Method Not Implemented"), {}
        if call.nsid not in _OPEN:
            problem = self._auth(call.headers.get("authorization", ""), "refresh" if "refresh" in call.nsid
                                 else "access")
            if problem:
                return problem
        return getattr(self, route)(call)

    def _auth(self, header: str, kind: str):
        if not header.startswith("Bearer "):
            return 401, self.error("AuthMissing", "Authentication Required"), {}
        token = self.tokens.get(header.removeprefix("Bearer "))
        if token is None or token["kind"] != kind:
            return 400, self.error("InvalidToken", "Token could not be verified"), {}
        if not token["live"] or token["exp"] < time.time():
            return 400, self.error("ExpiredToken", "Token has expired"), {}
        return None

    def _limit_headers(self) -> dict:
        return {"ratelimit-limit": "5000", "ratelimit-remaining": "4990", "ratelimit-policy": "5000;w=3600",
                "ratelimit-reset": str(int(time.time()) + 3600)}

    # -- sessions ----------------------------------------------------------------------------------------------

    def _jwt(self, kind: str, lifetime: int, scope: str) -> str:
        now = int(time.time())
        claims = {"scope": scope if kind == "access" else "com.atproto.refresh", "sub": self.did,
                  "aud": "did:web:bsky.social", "iat": now, "exp": now + lifetime,
                  "jti": base64.b32encode(hashlib.sha256(f"{time.time_ns()}{kind}".encode()).digest()[:10]).decode()}
        parts = [_b64({"typ": "at+jwt" if kind == "access" else "refresh+jwt", "alg": "HS256"}), _b64(claims)]
        token = ".".join(parts + [_b64(hashlib.sha256(".".join(parts).encode()).digest())])
        self.tokens[token] = {"kind": kind, "exp": now + lifetime, "scope": scope, "live": True}
        return token

    def _session(self, scope: str) -> dict:
        session = {"accessJwt": self._jwt("access", self.access_lifetime, scope),
                   "refreshJwt": self._jwt("refresh", 90 * 86400, scope), "handle": self.handle, "did": self.did,
                   "email": "office@greenfield.example.sch.uk", "emailConfirmed": True, "active": True}
        if self.did_doc:
            session["didDoc"] = {"@context": ["https://www.w3.org/ns/did/v1"], "id": self.did,
                                 "alsoKnownAs": [f"at://{self.handle}"],
                                 "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                                              "serviceEndpoint": self.pds_endpoint or self.url}]}
        return session

    def _create_session(self, call: Call):
        body = call.json if isinstance(call.json, dict) else {}
        now = time.time()
        self.sign_ins = [t for t in self.sign_ins if t > now - 300] + [now]
        if len(self.sign_ins) > SIGN_INS_PER_5_MIN:
            return 429, self.error("RateLimitExceeded", "Rate Limit Exceeded"), {
                "ratelimit-limit": "30", "ratelimit-remaining": "0", "ratelimit-policy": "30;w=300",
                "ratelimit-reset": str(int(self.sign_ins[0]) + 300)}
        if str(body.get("identifier", "")).lower() not in (self.handle, self.did):
            return 401, self.error("AuthenticationRequired", "Invalid identifier or password"), {}
        scopes = {self.app_password: "com.atproto.appPass", MAIN_PASSWORD: "com.atproto.access"}
        if body.get("password") not in scopes:
            return 401, self.error("AuthenticationRequired", "Invalid identifier or password"), {}
        if self.taken_down:
            return 401, self.error("AccountTakedown", "Account has been taken down"), {}
        return 200, self._session(scopes[body["password"]]), {}

    def _refresh_session(self, call: Call):
        old = self.tokens[call.headers["authorization"].removeprefix("Bearer ")]
        old["live"] = False  # refresh tokens are used once
        return 200, self._session(old["scope"]), {}

    def _resolve_handle(self, call: Call):
        did = self.handles.get(call.query.get("handle", "").lower())
        if did is None:
            return 400, self.error("InvalidRequest", "Unable to resolve handle"), {}
        return 200, {"did": did}, {}

    # -- repository --------------------------------------------------------------------------------------------

    def _upload_blob(self, call: Call):
        if len(call.body) > self.blob_limit:
            return 413, self.error("PayloadTooLarge", "request entity too large"), {}
        cid = _cid(call.body)
        mime = call.headers.get("content-type", "*/*")
        self.blobs[cid] = {"data": call.body, "mimeType": mime, "size": len(call.body)}
        return 200, {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(call.body)}}, {}

    def _create_record(self, call: Call):
        body = call.json if isinstance(call.json, dict) else {}
        if body.get("repo") not in (self.did, self.handle):
            return 401, self.error("AuthenticationRequired", "Authentication Required"), {}
        if body.get("collection") != POST:
            return self._create_other_record(body)
        rkey, record = body.get("rkey"), body.get("record") or {}
        if record.get("$type") != POST:
            return 400, self.error("InvalidRequest", "Invalid collection"), {}
        if rkey is not None and not TID.match(rkey):
            return 400, self.error("InvalidRequest", f"Invalid record key for {POST}: must be a valid TID"), {}
        problem = self._invalid_post(record)
        if problem:
            return 400, self.error("InvalidRequest", f"Invalid {POST} record: {problem}"), {}
        rkey = rkey or _cid(str(time.time_ns()).encode())[-13:]
        if rkey in self.records and not self.records[rkey]["deleted"]:
            return 500, self.error("InternalServerError", "Internal Server Error"), {}
        uri, cid = f"at://{self.did}/{POST}/{rkey}", _cid(json.dumps(record, sort_keys=True).encode())
        self.records[rkey] = {"uri": uri, "cid": cid, "value": record, "deleted": False}
        return 200, {"uri": uri, "cid": cid, "commit": self._commit(), "validationStatus": "valid"}, {}

    def _invalid_post(self, record: dict) -> str | None:
        text = record.get("text")
        if not isinstance(text, str) or "createdAt" not in record:
            return "Record must have the properties \"text\" and \"createdAt\""
        if len(text.encode()) > 3000:
            return "Record/text must not be longer than 3000 characters"
        for facet in record.get("facets") or []:
            index = facet.get("index") or {}
            if not 0 <= index.get("byteStart", -1) < index.get("byteEnd", -1) <= len(text.encode()):
                return "Record/facets must have a valid index"
        embed = record.get("embed") or {}
        images = embed.get("images") or []
        if embed and (embed.get("$type") != "app.bsky.embed.images" or len(images) > 4):
            return "Record/embed/images must not have more than 4 elements"
        for n, image in enumerate(images):
            blob = self.blobs.get(((image.get("image") or {}).get("ref") or {}).get("$link"))
            if "alt" not in image or blob is None:
                return f"Record/embed/images/{n} must have the properties \"image\" and \"alt\""
            if blob["size"] > MAX_BLOB_IMAGE:
                return f"Record/embed/images/{n}/image is too big (max {MAX_BLOB_IMAGE} bytes)"
        return None

    def _get_record(self, call: Call):
        q = call.query
        if q.get("collection") != POST:
            return self._get_other_record(q)
        record = self.records.get(q.get("rkey", ""))
        uri = f"at://{q.get('repo')}/{q.get('collection')}/{q.get('rkey')}"
        if q.get("repo") not in (self.did, self.handle) or q.get("collection") != POST or not record \
                or record["deleted"]:
            return 400, self.error("RecordNotFound", f"Could not locate record: {uri}"), {}
        return 200, {"uri": record["uri"], "cid": record["cid"], "value": record["value"]}, {}

    def _delete_record(self, call: Call):
        body = call.json if isinstance(call.json, dict) else {}
        if body.get("repo") not in (self.did, self.handle):
            return 401, self.error("AuthenticationRequired", "Authentication Required"), {}
        record = self.records.get(body.get("rkey", ""))
        if body.get("collection") != POST or record is None or record["deleted"]:
            return 200, {}, {}  # deleting what is not there is a no-op
        record["deleted"] = True
        return 200, {"commit": self._commit()}, {}

    def _commit(self) -> dict:
        return {"cid": _cid(f"commit{next(self._revs)}".encode()), "rev": f"3l{next(self._revs):011d}"}


_ROUTES = {
    ("POST", "com.atproto.server.createSession"): "_create_session",
    ("POST", "com.atproto.server.refreshSession"): "_refresh_session",
    ("GET", "com.atproto.identity.resolveHandle"): "_resolve_handle",
    ("POST", "com.atproto.repo.uploadBlob"): "_upload_blob",
    ("POST", "com.atproto.repo.createRecord"): "_create_record",
    ("GET", "com.atproto.repo.getRecord"): "_get_record",
    ("POST", "com.atproto.repo.deleteRecord"): "_delete_record",
    **REPLY_ROUTES,
}
_OPEN = {"com.atproto.server.createSession", "com.atproto.identity.resolveHandle", "com.atproto.repo.getRecord"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx uses it

    def do_GET(self) -> None:
        self.server.emulator.serve(self)

    do_POST = do_GET

    def log_message(self, *args) -> None:
        """Quiet: tests read the emulator's own record of calls."""


def _send(request: BaseHTTPRequestHandler, status: int, body, headers: dict, limits: dict) -> None:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        request.send_response(status)
        for name, value in {**limits, **headers}.items():
            request.send_header(name, value)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
    except OSError:  # the client gave up waiting (a timeout test): nobody is listening
        request.close_connection = True


def _b64(value) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _cid(data: bytes) -> str:
    """A CIDv1 (raw, sha2-256) in base32, as the PDS names blobs."""
    return "b" + base64.b32encode(b"\x01\x55\x12\x20" + hashlib.sha256(data).digest()).decode().lower().rstrip("=")


@contextmanager
def harness():
    """For the shared contract test: a Bluesky server, and the credentials the head would enter for it."""
    with BlueskyEmulator() as bsky:
        yield {"app_password": APP_PASSWORD, "service": bsky.url}

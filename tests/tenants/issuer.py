"""A real OpenID Connect issuer for the tests: an HTTP server on loopback serving its discovery document and its
JWKS, signing tokens (RS256, ES256) with keys it can rotate, and counting how often its keys are fetched."""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey

AUDIENCE = "emailplatform-api"


def new_key(alg: str) -> Key:
    return (
        RSAKey.generate_key(2048, auto_kid=True) if alg.startswith("RS") else ECKey.generate_key("P-256", auto_kid=True)
    )


class Issuer:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"
        self.signing = {"RS256": new_key("RS256"), "ES256": new_key("ES256")}
        self.published: list[Key] = list(self.signing.values())
        self.jwks_fetches = 0
        self.lock = threading.Lock()

    def rotate(self, keep_old: bool = False) -> None:
        """New signing keys; the old ones stay published only with `keep_old`."""
        old = list(self.signing.values())
        self.signing = {alg: new_key(alg) for alg in self.signing}
        self.published = list(self.signing.values()) + (old if keep_old else [])

    def token(self, alg: str = "RS256", key: Key | None = None, **claims) -> str:
        now = int(time.time())
        values = {"iss": self.url, "aud": AUDIENCE, "sub": "client-1", "iat": now, "exp": now + 300} | claims
        values = {name: value for name, value in values.items() if value is not None}
        key = key or self.signing[alg]
        return jwt.encode({"alg": alg, "kid": key.kid}, values, key)

    def discovery(self) -> dict:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks",
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        }

    def jwks(self) -> dict:
        with self.lock:
            self.jwks_fetches += 1
        return {"keys": [key.as_dict(private=False) for key in self.published]}


def handler_for(issuer: Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            routes = {"/.well-known/openid-configuration": issuer.discovery, "/jwks": issuer.jwks}
            if self.path not in routes:
                self.send_error(404)
                return
            body = json.dumps(routes[self.path]()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


@contextmanager
def running_issuer(port: int) -> Iterator[Issuer]:
    issuer = Issuer(port)
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(issuer))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()

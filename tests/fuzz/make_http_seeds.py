#!/usr/bin/env python3
"""Writes tests/fuzz/corpus/http_translation/: readable requests encoded in the byte layout
that http_translation_fuzzer.cc reads with FuzzedDataProvider (integers from the end of the
input, strings and the body from the front). Run it again after changing that layout."""
import json
import os

METHODS = ["GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE"]
PATHS = ["/password/login", "/password", "/sessions/validate", "/.well-known/jwks.json"]
HEADERS = ["content-type", "authorization", "cookie", "origin", "x-forwarded-for",
           "x-request-id", "user-agent", "access-control-request-headers", "x-real-ip"]
CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "Application/JSON",
                 "text/plain"]
USER = "38bf5a00-d7ea-40a5-a5de-48722c148925"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIzOGJmIn0.c2ln"


class Encoder:
    def __init__(self):
        self.front = bytearray()
        self.back = bytearray()  # in consumption order; stored reversed at the end

    def byte(self, value):
        self.back.append(value)

    def string(self, text, max_length):
        data = text.encode() if isinstance(text, str) else text
        assert len(data) <= max_length
        self.front += data.replace(b"\\", b"\\\\")
        if len(data) < max_length:
            self.front += b"\\;"  # FuzzedDataProvider's end-of-string mark

    def pick(self, value, choices, max_length):
        if value in choices:
            self.byte(choices.index(value))
        else:
            self.byte(len(choices))
            self.string(value, max_length)

    def data(self):
        return bytes(self.front) + bytes(reversed(self.back))


def seed(method, path, headers=(), body="", script=(), password_enabled=True,
         auth_token_header=False, cors=0, trusted_proxies=False, cookie_domain=False):
    e = Encoder()
    e.byte(1 if password_enabled else 0)
    e.byte(1 if auth_token_header else 0)
    e.byte(cors)
    e.byte(1 if trusted_proxies else 0)
    e.byte(1 if cookie_domain else 0)
    e.pick(method, METHODS, 24)
    e.pick(path, PATHS, 24)
    e.byte(len(headers))
    for name, value in headers:
        e.pick(name, HEADERS, 24)
        if name == "content-type":
            if value in CONTENT_TYPES:
                e.byte(1)
                e.byte(CONTENT_TYPES.index(value))
                continue
            e.byte(0)
        e.string(value, 96)
    e.byte(len(script))
    e.front += bytes(script)
    e.front += body.encode() if isinstance(body, str) else body
    return e.data()


JSON = ("content-type", "application/json")
LOGIN = json.dumps({"user_id": USER, "password": "SuperSecure"})
# Script bytes: low 5 bits = gRPC code (>= 17: OK), 0x40 = rate-limit metadata,
# 0x80 = valid session / created.
SEEDS = {
    "login-ok": seed("POST", "/password/login", [JSON], LOGIN),
    "login-charset-request-id": seed(
        "POST", "/password/login",
        [("content-type", "application/json; charset=utf-8"), ("x-request-id", "abc-123")], LOGIN),
    "login-unauthorized-ratelimited": seed("POST", "/password/login", [JSON], LOGIN, [16 | 0x40]),
    "login-too-many": seed("POST", "/password/login", [JSON], LOGIN, [8 | 0x40]),
    "login-invalid-argument": seed("POST", "/password/login", [JSON], LOGIN, [3 | 0x20]),
    "login-unavailable": seed("POST", "/password/login", [JSON], LOGIN, [14]),
    "login-text-plain": seed("POST", "/password/login", [("content-type", "text/plain")], LOGIN),
    "login-empty-body": seed("POST", "/password/login"),
    "login-truncated-json": seed("POST", "/password/login", [JSON], '{"user_id":"'),
    "login-number-password": seed("POST", "/password/login", [JSON],
                                  '{"user_id":"%s","password":123}' % USER),
    "login-folded-keys": seed("POST", "/password/login", [JSON],
                              '{"USER_ID":"%s","Password":"x","password":"\\u00e9\\ud83d\\ude00"}'
                              % USER),
    "login-null": seed("POST", "/password/login", [JSON], "null"),
    "login-trailing-garbage": seed("POST", "/password/login", [JSON], LOGIN + "}{x"),
    "login-xff-trusted": seed("POST", "/password/login",
                              [JSON, ("x-forwarded-for", "203.0.113.9, 10.0.0.3"),
                               ("user-agent", "Mozilla/5.0")], LOGIN, trusted_proxies=True),
    "login-header-token": seed("POST", "/password/login", [JSON], LOGIN, auth_token_header=True,
                               cookie_domain=True),
    "login-password-disabled": seed("POST", "/password/login", [JSON], LOGIN,
                                    password_enabled=False),
    "login-request-id-unprintable": seed("POST", "/password/login",
                                         [JSON, ("x-request-id", "a\tb\u00e9 c")], LOGIN),
    "set-password-bearer": seed("PUT", "/password", [JSON, ("authorization", "Bearer " + JWT)],
                                LOGIN, [0x80]),
    "set-password-cookie-created": seed("PUT", "/password", [JSON, ("cookie", "hanko=" + JWT)],
                                        LOGIN, [0x80, 0x80]),
    "set-password-bad-body-two-tokens": seed(
        "PUT", "/password",
        [JSON, ("authorization", "Bearer x.y.z"), ("cookie", 'a=b; hanko="%s"' % JWT)],
        '{"password":true}', [0, 0x80, 0x80]),
    "set-password-no-session": seed("PUT", "/password", [JSON], LOGIN),
    "validate-get-cookie": seed("GET", "/sessions/validate", [("cookie", "hanko=" + JWT)], "",
                                [0x80 | 0x40]),
    "validate-post-body": seed("POST", "/sessions/validate", [JSON],
                               json.dumps({"session_token": JWT}), [0x80]),
    "validate-post-empty-token": seed("POST", "/sessions/validate", [JSON], '{"session_token":""}'),
    "jwks": seed("GET", "/.well-known/jwks.json"),
    "jwks-head": seed("HEAD", "/.well-known/jwks.json"),
    "preflight-cors": seed("OPTIONS", "/password/login",
                           [("origin", "https://app.example.com"),
                            ("access-control-request-headers", "content-type")], cors=1),
    "cors-wildcard-login": seed("POST", "/password/login", [JSON, ("origin", "https://evil.test")],
                                LOGIN, cors=2),
    "delete-password": seed("DELETE", "/password"),
    "not-found": seed("GET", "/password/login/../x"),
}

if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "http_translation")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {out}")

#!/usr/bin/python3
"""An operator's view of passgate: discover it through server reflection (no .proto files),
call it dynamically, check health, and verify a session token against the published JWKS
with an independent JOSE library (jwcrypto).

Usage: reflection_client.py ADDRESS TOKEN_FILE
Exits 0 when every check passes; prints what failed otherwise.
"""
import json
import os
import subprocess
import sys
import tempfile

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from jwcrypto import jwk, jwt

REFLECTION_PROTO_DIR = "/usr/share/grpc-proto"
REFLECTION_PROTO = "grpc/reflection/v1alpha/reflection.proto"


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def message_class(pool, full_name):
    descriptor = pool.FindMessageTypeByName(full_name)
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


def main():
    address, token_file = sys.argv[1], sys.argv[2]
    token = open(token_file).read().strip()
    # Only the messages are generated: the module's package path (grpc.reflection...) is
    # shadowed by grpcio's own `grpc` package, so it is loaded by file path.
    out = tempfile.mkdtemp(prefix="passgate-reflection-")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{REFLECTION_PROTO_DIR}",
                    f"--python_out={out}", REFLECTION_PROTO],
                   check=True)
    import importlib.util

    def load(name, path):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    base = os.path.join(out, "grpc/reflection/v1alpha")
    reflection_pb2 = load("grpc.reflection.v1alpha.reflection_pb2",
                          os.path.join(base, "reflection_pb2.py"))

    channel = grpc.insecure_channel(address)
    reflection_info = channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)

    def ask(**request):
        responses = reflection_info(
            iter([reflection_pb2.ServerReflectionRequest(**request)]), timeout=30)
        return next(iter(responses))

    services = sorted(s.name for s in ask(list_services="").list_services_response.service)
    for expected in ("passgate.v1.PasswordAuth", "grpc.health.v1.Health",
                     "grpc.reflection.v1alpha.ServerReflection"):
        if expected not in services:
            fail(f"reflection does not list {expected}: {services}")

    pool = descriptor_pool.DescriptorPool()
    added = set()

    def add_files_for(symbol):
        response = ask(file_containing_symbol=symbol)
        if response.HasField("error_response"):
            fail(f"cannot describe {symbol}: {response.error_response.error_message}")
        files = [descriptor_pb2.FileDescriptorProto.FromString(raw)
                 for raw in response.file_descriptor_response.file_descriptor_proto]
        # Dependencies first: keep adding what can be added until all are in.
        pending = [f for f in files if f.name not in added]
        while pending:
            progressed = False
            for f in list(pending):
                if all(dep in added for dep in f.dependency):
                    pool.Add(f)
                    added.add(f.name)
                    pending.remove(f)
                    progressed = True
            if not progressed:
                for f in pending:
                    for dep in f.dependency:
                        if dep not in added:
                            add_file_by_name(dep)

    def add_file_by_name(name):
        response = ask(file_by_filename=name)
        if response.HasField("error_response"):
            fail(f"cannot fetch {name}: {response.error_response.error_message}")
        for raw in response.file_descriptor_response.file_descriptor_proto:
            f = descriptor_pb2.FileDescriptorProto.FromString(raw)
            if f.name not in added and all(dep in added for dep in f.dependency):
                pool.Add(f)
                added.add(f.name)

    add_files_for("passgate.v1.PasswordAuth")
    add_files_for("grpc.health.v1.Health")

    service = pool.FindServiceByName("passgate.v1.PasswordAuth")
    methods = sorted(m.name for m in service.methods)
    for expected in ("GetJwks", "Login", "RevokeSession", "SetPassword", "ValidateSession"):
        if expected not in methods:
            fail(f"PasswordAuth lacks {expected}: {methods}")

    def call(method, request_type, response_type, request):
        request_class = message_class(pool, request_type)
        response_class = message_class(pool, response_type)
        stub = channel.unary_unary(method, request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=response_class.FromString)
        return stub(json_format.ParseDict(request, request_class()), timeout=30)

    health = call("/grpc.health.v1.Health/Check", "grpc.health.v1.HealthCheckRequest",
                  "grpc.health.v1.HealthCheckResponse", {})
    if json_format.MessageToDict(health).get("status") != "SERVING":
        fail(f"health: {health}")

    jwks_message = call("/passgate.v1.PasswordAuth/GetJwks", "passgate.v1.GetJwksRequest",
                        "passgate.v1.Jwks", {})
    jwks = json_format.MessageToDict(jwks_message, preserving_proto_field_name=True)
    keyset = jwk.JWKSet.from_json(json.dumps(jwks))

    verified = jwt.JWT(jwt=token, key=keyset, algs=["RS256", "ES256", "EdDSA"],
                       check_claims={"exp": None})
    claims = json.loads(verified.claims)
    header = json.loads(verified.token.objects["protected"])
    if header.get("typ") != "JWT" or "kid" not in header:
        fail(f"header: {header}")

    # Tampering must break the independent verification too.
    head, payload, signature = token.split(".")
    forged = json.loads(jwt.JWT(jwt=token, key=keyset, algs=["RS256", "ES256", "EdDSA"]).claims)
    forged["sub"] = "00000000-0000-4000-8000-000000000000"
    from jwcrypto.common import base64url_encode
    tampered = ".".join([head, base64url_encode(json.dumps(forged)), signature])
    try:
        jwt.JWT(jwt=tampered, key=keyset, algs=["RS256", "ES256", "EdDSA"])
        fail("a tampered token verified")
    except Exception:  # jwcrypto raises InvalidJWSSignature
        pass

    validated = call("/passgate.v1.PasswordAuth/ValidateSession",
                     "passgate.v1.ValidateSessionRequest", "passgate.v1.ValidateSessionResponse",
                     {"session_token": token})
    if not validated.is_valid:
        fail("ValidateSession through reflection says the token is invalid")

    print(json.dumps({"services": services, "claims": claims, "header": header,
                      "keys": len(jwks["keys"])}))


if __name__ == "__main__":
    main()

"""Server reflection under both names clients ask for: `grpc.reflection.v1` (current
grpcurl, Postman and buf curl try it first) and `grpc.reflection.v1alpha`.

grpcio-reflection ships only the v1alpha servicer. v1 is the same protocol under another
package: the same messages with the same field names and numbers, so the v1alpha servicer
answers v1 requests byte for byte once registered under the v1 name too. For clients that
describe the reflection service itself, the v1 file descriptor is derived from v1alpha's
(package and type names renamed) and registered in the default pool, as importing a
generated v1 module would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

from jobsvc.api.auth import ANY_SCOPE, Authenticator

V1ALPHA_SERVICE = reflection.SERVICE_NAME
V1_PACKAGE = "grpc.reflection.v1"
V1_SERVICE = f"{V1_PACKAGE}.ServerReflection"
# The name and options of grpc's own reflection/v1 file, so that a client that saw the
# real one elsewhere finds the same.
V1_FILE = "grpc/reflection/v1/reflection.proto"
_V1_OPTIONS = descriptor_pb2.FileOptions(
    java_package="io.grpc.reflection.v1",
    java_outer_classname="ServerReflectionProto",
    java_multiple_files=True,
    go_package="google.golang.org/grpc/reflection/grpc_reflection_v1",
)
_METHOD = "ServerReflectionInfo"


def add_reflection(server: grpc.aio.Server, service_names: Iterable[str], authenticator: Authenticator) -> None:
    """Serve reflection v1 and v1alpha for `service_names` (and themselves); with
    authentication on, either needs a valid token of any scope."""
    _register_v1_file()
    servicer = reflection.aio.ReflectionServicer((*service_names, V1_SERVICE, V1ALPHA_SERVICE))
    for name in (V1_SERVICE, V1ALPHA_SERVICE):
        handler = grpc.stream_stream_rpc_method_handler(
            authenticator.guard_path(f"/{name}/{_METHOD}", ANY_SCOPE, servicer.ServerReflectionInfo, streaming=True),
            # The v1alpha classes for v1 too: the two encode the same bytes.
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
        )
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, {_METHOD: handler}),))


def _register_v1_file() -> None:
    """Put the v1 reflection file in the default pool, unless something already did
    (another server in this process, or a grpcio-reflection that ships v1)."""
    pool = descriptor_pool.Default()
    with contextlib.suppress(KeyError):
        pool.FindFileByName(V1_FILE)
        return
    pool.AddSerializedFile(v1_file_descriptor().SerializeToString())


def v1_file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """reflection/v1's file descriptor, derived from the v1alpha one that grpcio-reflection ships."""
    v1alpha_package = reflection_pb2.DESCRIPTOR.package
    file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(file)
    file.name, file.package = V1_FILE, V1_PACKAGE
    file.options.CopyFrom(_V1_OPTIONS)  # v1alpha's are its Java/Go names and `deprecated`

    def renamed(type_name: str) -> str:
        return type_name.replace(f".{v1alpha_package}.", f".{V1_PACKAGE}.", 1)

    _rename_field_types(file.message_type, renamed)
    for service in file.service:
        for method in service.method:
            method.input_type, method.output_type = renamed(method.input_type), renamed(method.output_type)
    return file


def _rename_field_types(messages: Iterable[descriptor_pb2.DescriptorProto], renamed: Callable[[str], str]) -> None:
    for message in messages:
        for field in message.field:
            if field.HasField("type_name"):  # set only on message and enum fields
                field.type_name = renamed(field.type_name)
        _rename_field_types(message.nested_type, renamed)

"""The Sparkplug B protobuf messages, built at import time from their definition.

Part of the vocabulary: the connector decodes these messages and the virtual factory
encodes them, so both import this one module.

``sparkplug_b.proto`` beside this module is the definition of the Eclipse Sparkplug 3.0
specification. ``protoc`` is not needed: the same definition is declared here as a
``FileDescriptorProto`` and protobuf's runtime makes the message classes from it, so
decoding and encoding are protobuf's own (no hand-written wire parsing). A test checks that
this declaration and the ``.proto`` file agree field by field.

>>> payload = Payload(seq=3, timestamp=1763700000000)
>>> metric = payload.metrics.add(name="Temperature", alias=1, datatype=DataType.Double)
>>> metric.double_value = 21.5
>>> again = Payload.FromString(payload.SerializeToString())
>>> again.seq, again.metrics[0].name, again.metrics[0].WhichOneof("value")
(3, 'Temperature', 'double_value')
"""

from __future__ import annotations

import enum
from typing import Any

from google.protobuf import (  # type: ignore[import-untyped]  # types-protobuf not installed
    descriptor_pb2,
    descriptor_pool,
    message_factory,
)

__all__ = ["PACKAGE", "DataType", "Payload", "file_descriptor"]

PACKAGE = "org.eclipse.tahu.protobuf"
_MAX_FIELD = 536_870_912  # "to max": field numbers end at 2**29 - 1 (exclusive bound)
_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "uint32": _F.TYPE_UINT32,
    "uint64": _F.TYPE_UINT64,
    "float": _F.TYPE_FLOAT,
    "double": _F.TYPE_DOUBLE,
    "bool": _F.TYPE_BOOL,
    "string": _F.TYPE_STRING,
    "bytes": _F.TYPE_BYTES,
}


class DataType(enum.IntEnum):
    """Sparkplug B data types (the ``DataType`` enum of the specification)."""

    Unknown = 0
    Int8 = 1
    Int16 = 2
    Int32 = 3
    Int64 = 4
    UInt8 = 5
    UInt16 = 6
    UInt32 = 7
    UInt64 = 8
    Float = 9
    Double = 10
    Boolean = 11
    String = 12
    DateTime = 13
    Text = 14
    UUID = 15
    DataSet = 16
    Bytes = 17
    File = 18
    Template = 19
    PropertySet = 20
    PropertySetList = 21
    Int8Array = 22
    Int16Array = 23
    Int32Array = 24
    Int64Array = 25
    UInt8Array = 26
    UInt16Array = 27
    UInt32Array = 28
    UInt64Array = 29
    FloatArray = 30
    DoubleArray = 31
    BooleanArray = 32
    StringArray = 33
    DateTimeArray = 34


# A field: (label, type, name, number); a type that is not a scalar names a message, as
# written in the .proto (resolved from the enclosing scopes, innermost first).
_Field = tuple[str, str, str, int]


def _message(
    name: str,
    fields: list[_Field],
    *,
    oneof: list[_Field] = (),  # type: ignore[assignment]  # an empty default, never mutated
    nested: list[descriptor_pb2.DescriptorProto] = (),  # type: ignore[assignment]  # same
    extensions_from: int | None = None,
) -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name=name)
    message.nested_type.extend(nested)
    if oneof:
        message.oneof_decl.add(name="value")
    for label, kind, field_name, number in [*fields, *oneof]:
        field = message.field.add(name=field_name, number=number, json_name=_camel(field_name))
        field.label = _F.LABEL_REPEATED if label == "repeated" else _F.LABEL_OPTIONAL
        if kind in _SCALARS:
            field.type = _SCALARS[kind]
        else:
            field.type = _F.TYPE_MESSAGE
            field.type_name = kind  # relative: resolved by _resolve below
        if (label, kind, field_name, number) in oneof:
            field.oneof_index = 0
    if extensions_from is not None:
        message.extension_range.add(start=extensions_from, end=_MAX_FIELD)
    return message


def _extension(name: str) -> descriptor_pb2.DescriptorProto:
    return _message(name, [], extensions_from=1)


_VALUE_KINDS = (
    ("uint32", "int_value"),
    ("uint64", "long_value"),
    ("float", "float_value"),
    ("double", "double_value"),
    ("bool", "boolean_value"),
    ("string", "string_value"),
)


def _value_oneof(first: int, extension: str) -> list[_Field]:
    """The ``oneof value`` shared by parameters, data set values, properties and metrics."""
    fields = [("", kind, name, first + i) for i, (kind, name) in enumerate(_VALUE_KINDS)]
    return [*fields, ("", extension, "extension_value", first + len(fields))]


def _payload() -> descriptor_pb2.DescriptorProto:
    opt, rep = "optional", "repeated"
    template = _message(
        "Template",
        [
            (opt, "string", "version", 1),
            (rep, "Metric", "metrics", 2),
            (rep, "Parameter", "parameters", 3),
            (opt, "string", "template_ref", 4),
            (opt, "bool", "is_definition", 5),
        ],
        nested=[
            _message(
                "Parameter",
                [(opt, "string", "name", 1), (opt, "uint32", "type", 2)],
                oneof=_value_oneof(3, "ParameterValueExtension"),
                nested=[_extension("ParameterValueExtension")],
            )
        ],
        extensions_from=6,
    )
    dataset = _message(
        "DataSet",
        [
            (opt, "uint64", "num_of_columns", 1),
            (rep, "string", "columns", 2),
            (rep, "uint32", "types", 3),
            (rep, "Row", "rows", 4),
        ],
        nested=[
            _message(
                "DataSetValue",
                [],
                oneof=_value_oneof(1, "DataSetValueExtension"),
                nested=[_extension("DataSetValueExtension")],
            ),
            _message("Row", [(rep, "DataSetValue", "elements", 1)], extensions_from=2),
        ],
        extensions_from=5,
    )
    property_value = _message(
        "PropertyValue",
        [(opt, "uint32", "type", 1), (opt, "bool", "is_null", 2)],
        oneof=[
            *_value_oneof(3, "PropertyValueExtension")[:-1],
            ("", "PropertySet", "propertyset_value", 9),
            ("", "PropertySetList", "propertysets_value", 10),
            ("", "PropertyValueExtension", "extension_value", 11),
        ],
        nested=[_extension("PropertyValueExtension")],
    )
    property_set = _message(
        "PropertySet",
        [(rep, "string", "keys", 1), (rep, "PropertyValue", "values", 2)],
        extensions_from=3,
    )
    property_set_list = _message(
        "PropertySetList", [(rep, "PropertySet", "propertyset", 1)], extensions_from=2
    )
    metadata = _message(
        "MetaData",
        [
            (opt, "bool", "is_multi_part", 1),
            (opt, "string", "content_type", 2),
            (opt, "uint64", "size", 3),
            (opt, "uint64", "seq", 4),
            (opt, "string", "file_name", 5),
            (opt, "string", "file_type", 6),
            (opt, "string", "md5", 7),
            (opt, "string", "description", 8),
        ],
        extensions_from=9,
    )
    metric = _message(
        "Metric",
        [
            (opt, "string", "name", 1),
            (opt, "uint64", "alias", 2),
            (opt, "uint64", "timestamp", 3),
            (opt, "uint32", "datatype", 4),
            (opt, "bool", "is_historical", 5),
            (opt, "bool", "is_transient", 6),
            (opt, "bool", "is_null", 7),
            (opt, "MetaData", "metadata", 8),
            (opt, "PropertySet", "properties", 9),
        ],
        oneof=[
            *_value_oneof(10, "MetricValueExtension")[:-1],
            ("", "bytes", "bytes_value", 16),
            ("", "DataSet", "dataset_value", 17),
            ("", "Template", "template_value", 18),
            ("", "MetricValueExtension", "extension_value", 19),
        ],
        nested=[_extension("MetricValueExtension")],
    )
    return _message(
        "Payload",
        [
            (opt, "uint64", "timestamp", 1),
            (rep, "Metric", "metrics", 2),
            (opt, "uint64", "seq", 3),
            (opt, "string", "uuid", 4),
            (opt, "bytes", "body", 5),
        ],
        nested=[
            template,
            dataset,
            property_value,
            property_set,
            property_set_list,
            metadata,
            metric,
        ],
        extensions_from=6,
    )


def file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """The ``sparkplug_b.proto`` definition as a ``FileDescriptorProto``."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="andon/sparkplug_b.proto", package=PACKAGE, syntax="proto2"
    )
    enum_type = proto.enum_type.add(name="DataType")
    for member in DataType:
        enum_type.value.add(name=member.name, number=member.value)
    payload = _payload()
    _resolve(payload, f".{PACKAGE}", _all_names(payload, f".{PACKAGE}.Payload"))
    proto.message_type.append(payload)
    return proto


def _all_names(message: descriptor_pb2.DescriptorProto, full: str) -> set[str]:
    names = {full}
    for nested in message.nested_type:
        names |= _all_names(nested, f"{full}.{nested.name}")
    return names


def _resolve(message: descriptor_pb2.DescriptorProto, scope: str, known: set[str]) -> None:
    """Turn relative type names into full ones: innermost enclosing scope first, as protoc."""
    full = f"{scope}.{message.name}"
    scopes = [full]
    while scopes[-1].count(".") > 1:
        scopes.append(scopes[-1].rsplit(".", 1)[0])
    for field in message.field:
        if field.type == _F.TYPE_MESSAGE and not field.type_name.startswith("."):
            field.type_name = next(
                f"{s}.{field.type_name}" for s in scopes if f"{s}.{field.type_name}" in known
            )
    for nested in message.nested_type:
        _resolve(nested, full, known)


def _build() -> Any:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_descriptor())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.Payload"))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


Payload: Any = _build()
"""The Sparkplug B ``Payload`` message class (protobuf runtime, generated at import)."""

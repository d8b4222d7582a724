public import Foundation
public import SwiftProtobuf

/// Any plugin's messages to and from proto3 JSON, driven by the descriptor sets the
/// plugins ship (`<Name>Contract.descriptorSet`, `xunfang-plugin-NAME --descriptors`, or a
/// `protoc --include_imports --descriptor_set_out` file from a C plugin), so tools such as
/// `xunfang ctl` speak every contract without compiling one in.
///
/// JSON follows the proto3 mapping: lowerCamelCase names (the original names are accepted
/// too), 64-bit integers as strings, enums by name (numbers accepted), bytes as base64,
/// maps as objects, default values left out.
public struct ContractCodec: Sendable {
    /// Why a message could not be encoded or decoded: INVALID_ARGUMENT on the wire.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
        init(_ message: String) { self.message = message }
    }

    public struct Method: Sendable, Hashable {
        public let input: String
        public let output: String

        public init(input: String, output: String) {
            self.input = input
            self.output = output
        }
    }

    struct Field: Sendable {
        let number: Int
        let name: String
        let jsonName: String
        let type: Google_Protobuf_FieldDescriptorProto.TypeEnum
        let typeName: String
        let repeated: Bool
        let hasPresence: Bool
        /// A signed 64-bit field of a `xunfang.*` contract: Unix milliseconds, by the
        /// platform's convention (docs/wire.md).
        let isTime: Bool
    }

    /// How `decode` writes JSON: the proto3 mapping, or for people: every field present
    /// (zero, empty and the first enum value included) and Xunfang's times in China time
    /// (`2026-12-01 18:45:07 +08:00`, null for 0). `encode` reads both.
    public enum JSONStyle: Sendable {
        case proto3, readable
    }

    struct MessageShape: Sendable {
        let fields: [Field]
        let byNumber: [Int: Int]
        let byJSONName: [String: Int]
        let isMapEntry: Bool
    }

    struct EnumShape: Sendable {
        let names: [Int32: String]
        let numbers: [String: Int32]
    }

    private(set) var messages: [String: MessageShape] = [:]
    private(set) var enums: [String: EnumShape] = [:]
    /// `/package.Service/Method` to its request and response type names.
    public private(set) var methods: [String: Method] = [:]

    /// Nesting deeper than this is refused: a hostile payload cannot exhaust the stack.
    static let maxDepth = 64

    public init() {}

    public init(descriptorSets: [Data]) throws(Failure) {
        for set in descriptorSets { try add(set) }
    }

    /// Adds a serialized FileDescriptorSet; a type already known is kept as it was.
    public mutating func add(_ descriptorSet: Data) throws(Failure) {
        let set: Google_Protobuf_FileDescriptorSet
        do {
            set = try Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet)
        } catch {
            throw Failure("not a protobuf FileDescriptorSet (\(error))")
        }
        for file in set.file {
            let prefix = file.package.isEmpty ? "" : file.package + "."
            for message in file.messageType { addMessage(message, prefix: prefix, syntax: file.syntax) }
            for shape in file.enumType { addEnum(shape, prefix: prefix) }
            for service in file.service {
                for method in service.method {
                    methods["/\(prefix)\(service.name)/\(method.name)"] = Method(input: Self.trimDot(method.inputType),
                                                                              output: Self.trimDot(method.outputType))
                }
            }
        }
    }

    public var messageNames: [String] { messages.keys.sorted() }

    public func knows(_ type: String) -> Bool { messages[type] != nil }

    // MARK: - Descriptors

    private static func trimDot(_ name: String) -> String { name.hasPrefix(".") ? String(name.dropFirst()) : name }

    private mutating func addMessage(_ message: Google_Protobuf_DescriptorProto, prefix: String, syntax: String) {
        let name = prefix + message.name
        guard messages[name] == nil else { return }
        let fields = message.field.map { field in
            Field(number: Int(field.number), name: field.name, jsonName: field.hasJsonName ? field.jsonName : field.name,
                  type: field.type, typeName: Self.trimDot(field.typeName), repeated: field.label == .repeated,
                  hasPresence: field.label != .repeated
                      && (field.type == .message || field.hasOneofIndex || field.proto3Optional || syntax != "proto3"),
                  isTime: prefix.hasPrefix("xunfang.") && [.int64, .sint64, .sfixed64].contains(field.type))
        }
        var byNumber: [Int: Int] = [:], byJSONName: [String: Int] = [:]
        for (index, field) in fields.enumerated() {
            byNumber[field.number] = index
            byJSONName[field.jsonName] = index
            byJSONName[field.name] = index
        }
        messages[name] = MessageShape(fields: fields, byNumber: byNumber, byJSONName: byJSONName, isMapEntry: message.options.mapEntry)
        for nested in message.nestedType { addMessage(nested, prefix: name + ".", syntax: syntax) }
        for shape in message.enumType { addEnum(shape, prefix: name + ".") }
    }

    private mutating func addEnum(_ shape: Google_Protobuf_EnumDescriptorProto, prefix: String) {
        var names: [Int32: String] = [:], numbers: [String: Int32] = [:]
        for value in shape.value {
            if names[value.number] == nil { names[value.number] = value.name }
            numbers[value.name] = value.number
        }
        enums[prefix + shape.name] = EnumShape(names: names, numbers: numbers)
    }

    func shape(_ type: String) throws(Failure) -> MessageShape {
        guard let shape = messages[type] else { throw Failure("unknown message type \(type)") }
        return shape
    }
}

// MARK: - JSON to binary

extension ContractCodec {
    /// Encodes JSON text as the binary message `type`.
    public func encode(json: String, as type: String) throws(Failure) -> Data {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
        } catch {
            throw Failure("not JSON: \(error.localizedDescription)")
        }
        var writer = Writer()
        try encode(object, as: type, into: &writer, path: type, depth: 0)
        return Data(writer.bytes)
    }

    private func encode(_ value: Any, as type: String, into writer: inout Writer, path: String, depth: Int) throws(Failure) {
        guard depth < Self.maxDepth else { throw Failure("\(path): nested deeper than \(Self.maxDepth)") }
        guard let object = value as? [String: Any] else { throw Failure("\(path): expected a JSON object for \(type)") }
        let shape = try shape(type)
        for key in object.keys.sorted() {
            guard let index = shape.byJSONName[key] else { throw Failure("\(path): \(type) has no field \(key)") }
            let field = shape.fields[index]
            let value = object[key]!
            if value is NSNull { continue }
            let fieldPath = "\(path).\(field.jsonName)"
            if field.repeated, let entryShape = messages[field.typeName], entryShape.isMapEntry {
                guard let map = value as? [String: Any] else { throw Failure("\(fieldPath): expected a JSON object (a map)") }
                for mapKey in map.keys.sorted() {
                    var entry = Writer()
                    try encodeScalar(mapKey, entryShape.fields[0], into: &entry, path: fieldPath, fromKey: true)
                    try encodeValue(map[mapKey]!, entryShape.fields[1], into: &entry, path: "\(fieldPath)[\(mapKey)]", depth: depth)
                    writer.tag(field.number, wireType: 2)
                    writer.lengthDelimited(entry.bytes)
                }
            } else if field.repeated {
                guard let array = value as? [Any] else { throw Failure("\(fieldPath): expected a JSON array") }
                for (position, element) in array.enumerated() {
                    try encodeValue(element, field, into: &writer, path: "\(fieldPath)[\(position)]", depth: depth)
                }
            } else {
                try encodeValue(value, field, into: &writer, path: fieldPath, depth: depth)
            }
        }
    }

    private func encodeValue(_ value: Any, _ field: Field, into writer: inout Writer, path: String, depth: Int) throws(Failure) {
        if field.type == .message || field.type == .group {
            var nested = Writer()
            try encode(value, as: field.typeName, into: &nested, path: path, depth: depth + 1)
            writer.tag(field.number, wireType: 2)
            writer.lengthDelimited(nested.bytes)
        } else {
            try encodeScalar(value, field, into: &writer, path: path, fromKey: false)
        }
    }

    private func encodeScalar(_ value: Any, _ field: Field, into writer: inout Writer, path: String, fromKey: Bool) throws(Failure) {
        func integer<T: FixedWidthInteger>(_: T.Type) throws(Failure) -> T {
            if let text = value as? String, let number = T(text) { return number }
            if field.isTime, let text = value as? String, let milliseconds = ChinaTime.parse(text), let number = T(exactly: milliseconds) {
                return number
            }
            if let number = value as? NSNumber, !Self.isBoolean(value) {
                let double = number.doubleValue
                if double.rounded() == double, let exact = T(exactly: double) { return exact }
                if let exact = T(exactly: number.int64Value), Double(number.int64Value) == double { return exact }
            }
            throw Failure("\(path): \(value) is not a \(T.self)")
        }
        func floating() throws(Failure) -> Double {
            if let number = value as? NSNumber, !Self.isBoolean(value) { return number.doubleValue }
            switch value as? String {
            case "NaN": return .nan
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            case let text?: if let number = Double(text) { return number }
            default: break
            }
            throw Failure("\(path): \(value) is not a number")
        }
        switch field.type {
        case .int32: writer.tag(field.number, wireType: 0); writer.varint(UInt64(bitPattern: Int64(try integer(Int32.self))))
        case .int64: writer.tag(field.number, wireType: 0); writer.varint(UInt64(bitPattern: try integer(Int64.self)))
        case .uint32: writer.tag(field.number, wireType: 0); writer.varint(UInt64(try integer(UInt32.self)))
        case .uint64: writer.tag(field.number, wireType: 0); writer.varint(try integer(UInt64.self))
        case .sint32:
            let number = try integer(Int32.self)
            writer.tag(field.number, wireType: 0); writer.varint(UInt64(UInt32(bitPattern: (number << 1) ^ (number >> 31))))
        case .sint64:
            let number = try integer(Int64.self)
            writer.tag(field.number, wireType: 0); writer.varint(UInt64(bitPattern: (number << 1) ^ (number >> 63)))
        case .fixed32: writer.tag(field.number, wireType: 5); writer.fixed32(try integer(UInt32.self))
        case .sfixed32: writer.tag(field.number, wireType: 5); writer.fixed32(UInt32(bitPattern: try integer(Int32.self)))
        case .fixed64: writer.tag(field.number, wireType: 1); writer.fixed64(try integer(UInt64.self))
        case .sfixed64: writer.tag(field.number, wireType: 1); writer.fixed64(UInt64(bitPattern: try integer(Int64.self)))
        case .double: writer.tag(field.number, wireType: 1); writer.fixed64(try floating().bitPattern)
        case .float: writer.tag(field.number, wireType: 5); writer.fixed32(Float(try floating()).bitPattern)
        case .bool:
            let flag: Bool
            if Self.isBoolean(value), let bool = value as? Bool { flag = bool } else if fromKey, let text = value as? String, let bool = Bool(text) { flag = bool } else {
                throw Failure("\(path): \(value) is not true or false")
            }
            writer.tag(field.number, wireType: 0); writer.varint(flag ? 1 : 0)
        case .string:
            guard let text = value as? String else { throw Failure("\(path): expected a string") }
            writer.tag(field.number, wireType: 2); writer.lengthDelimited(Array(text.utf8))
        case .bytes:
            guard let text = value as? String, let data = Data(base64Encoded: text) else { throw Failure("\(path): expected base64 bytes") }
            writer.tag(field.number, wireType: 2); writer.lengthDelimited(Array(data))
        case .enum:
            guard let shape = enums[field.typeName] else { throw Failure("\(path): unknown enum \(field.typeName)") }
            let number: Int32
            if let name = value as? String {
                guard let known = shape.numbers[name] else {
                    throw Failure("\(path): \(name) is not one of \(shape.numbers.keys.sorted().joined(separator: ", "))")
                }
                number = known
            } else {
                number = try integer(Int32.self)
                guard shape.names[number] != nil else { throw Failure("\(path): \(number) is not a value of \(field.typeName)") }
            }
            writer.tag(field.number, wireType: 0); writer.varint(UInt64(bitPattern: Int64(number)))
        default:
            throw Failure("\(path): field type \(field.type) is not supported")
        }
    }
}

// MARK: - Binary to JSON

extension ContractCodec {
    /// Decodes the binary message `type` into JSON-ready values (dictionaries, arrays,
    /// strings, numbers), for `JSONSerialization`.
    public func decode(_ data: Data, as type: String, style: JSONStyle = .proto3) throws(Failure) -> [String: Any] {
        var reader = Reader(bytes: [UInt8](data))
        return try decode(&reader, as: type, path: type, depth: 0, style: style)
    }

    private func decode(_ reader: inout Reader, as type: String, path: String, depth: Int, style: JSONStyle) throws(Failure) -> [String: Any] {
        guard depth < Self.maxDepth else { throw Failure("\(path): nested deeper than \(Self.maxDepth)") }
        let shape = try shape(type)
        var result: [String: Any] = [:]
        var lists: [Int: [Any]] = [:]
        var maps: [Int: [String: Any]] = [:]
        while !reader.atEnd {
            let (number, wireType) = try reader.tag(path: path)
            guard let index = shape.byNumber[number] else {
                try reader.skip(wireType: wireType, path: path)
                continue
            }
            let field = shape.fields[index]
            let fieldPath = "\(path).\(field.jsonName)"
            if field.repeated, let entryShape = messages[field.typeName], entryShape.isMapEntry {
                var entry = Reader(bytes: try reader.lengthDelimited(path: fieldPath))
                let decoded = try decodeEntry(&entry, entryShape, path: fieldPath, depth: depth, style: style)
                maps[index, default: [:]][decoded.key] = decoded.value
            } else if field.repeated, wireType == 2, Self.isPackable(field.type) {
                var packed = Reader(bytes: try reader.lengthDelimited(path: fieldPath))
                while !packed.atEnd {
                    lists[index, default: []].append(try decodeValue(&packed, field, wireType: Self.wireType(of: field.type), path: fieldPath, depth: depth, style: style))
                }
            } else {
                let value = try decodeValue(&reader, field, wireType: wireType, path: fieldPath, depth: depth, style: style)
                if field.repeated { lists[index, default: []].append(value) } else { result[field.jsonName] = value }
            }
        }
        for (index, list) in lists { result[shape.fields[index].jsonName] = list }
        for (index, map) in maps { result[shape.fields[index].jsonName] = map }
        switch style {
        case .proto3:
            // proto3 leaves defaults out on the wire; JSON leaves them out too, unless the field has presence.
            for field in shape.fields where !field.hasPresence {
                if let value = result[field.jsonName], Self.isDefault(value, field, enums: enums) { result[field.jsonName] = nil }
            }
        case .readable:
            for field in shape.fields where result[field.jsonName] == nil && !field.hasPresence {
                let isMap = field.repeated && messages[field.typeName]?.isMapEntry == true
                result[field.jsonName] = isMap ? [String: Any]() : field.repeated ? [Any]() : Self.defaultValue(field, enums: enums)
            }
            for field in shape.fields where field.isTime {
                if let list = result[field.jsonName] as? [Any] {
                    result[field.jsonName] = list.map(Self.chinaTime)
                } else if let value = result[field.jsonName] {
                    result[field.jsonName] = Self.chinaTime(value)
                }
            }
        }
        return result
    }

    private func decodeEntry(_ reader: inout Reader, _ shape: MessageShape, path: String, depth: Int, style: JSONStyle) throws(Failure) -> (key: String, value: Any) {
        var key: Any = "", value: Any?
        while !reader.atEnd {
            let (number, wireType) = try reader.tag(path: path)
            switch number {
            case 1: key = try decodeValue(&reader, shape.fields[0], wireType: wireType, path: path, depth: depth, style: style)
            case 2: value = try decodeValue(&reader, shape.fields[1], wireType: wireType, path: path, depth: depth, style: style)
            default: try reader.skip(wireType: wireType, path: path)
            }
        }
        let valueField = shape.fields[1]
        if value == nil, valueField.type == .message { value = [String: Any]() }
        return ("\(key)", value ?? Self.defaultValue(valueField, enums: enums))
    }

    private func decodeValue(_ reader: inout Reader, _ field: Field, wireType: Int, path: String, depth: Int, style: JSONStyle) throws(Failure) -> Any {
        let expected = Self.wireType(of: field.type)
        guard wireType == expected else { throw Failure("\(path): wire type \(wireType) where \(field.type) needs \(expected)") }
        switch field.type {
        case .message, .group:
            var nested = Reader(bytes: try reader.lengthDelimited(path: path))
            return try decode(&nested, as: field.typeName, path: path, depth: depth + 1, style: style)
        case .int32: return Int32(truncatingIfNeeded: try reader.varint(path: path))
        case .int64: return String(Int64(bitPattern: try reader.varint(path: path)))
        case .uint32: return UInt32(truncatingIfNeeded: try reader.varint(path: path))
        case .uint64: return String(try reader.varint(path: path))
        case .sint32:
            let raw = UInt32(truncatingIfNeeded: try reader.varint(path: path))
            return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
        case .sint64:
            let raw = try reader.varint(path: path)
            return String(Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1))))
        case .fixed32: return try reader.fixed32(path: path)
        case .sfixed32: return Int32(bitPattern: try reader.fixed32(path: path))
        case .fixed64: return String(try reader.fixed64(path: path))
        case .sfixed64: return String(Int64(bitPattern: try reader.fixed64(path: path)))
        case .double: return Self.jsonNumber(Double(bitPattern: try reader.fixed64(path: path)))
        case .float: return Self.jsonNumber(Double(Float(bitPattern: try reader.fixed32(path: path))))
        case .bool: return try reader.varint(path: path) != 0
        case .string:
            let bytes = try reader.lengthDelimited(path: path)
            guard let text = String(validating: bytes, as: UTF8.self) else { throw Failure("\(path): string is not UTF-8") }
            return text
        case .bytes: return Data(try reader.lengthDelimited(path: path)).base64EncodedString()
        case .enum:
            let number = Int32(truncatingIfNeeded: try reader.varint(path: path))
            return enums[field.typeName]?.names[number] ?? number
        default:
            throw Failure("\(path): field type \(field.type) is not supported")
        }
    }

    /// JSON true or false. On Linux a parsed 0 or 1 also casts to Bool; only a boolean
    /// NSNumber has the objCType "c".
    static func isBoolean(_ value: Any) -> Bool {
        if let number = value as? NSNumber { return String(cString: number.objCType) == "c" }
        return value is Bool
    }

    /// A time field's decimal string as China time; 0 (not set) as null.
    private static func chinaTime(_ value: Any) -> Any {
        guard let text = value as? String, let milliseconds = Int64(text) else { return value }
        return milliseconds == 0 ? NSNull() : ChinaTime.format(milliseconds: milliseconds)
    }

    private static func jsonNumber(_ value: Double) -> Any {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "Infinity" : "-Infinity" }
        return value
    }

    private static func isDefault(_ value: Any, _ field: Field, enums: [String: EnumShape]) -> Bool {
        switch field.type {
        case .string, .bytes: (value as? String)?.isEmpty == true
        case .bool: (value as? Bool) == false
        case .int64, .uint64, .sint64, .fixed64, .sfixed64: (value as? String) == "0"
        case .enum: (value as? String) == enums[field.typeName]?.names[0] || (value as? Int32) == 0
        case .double, .float: (value as? Double).map { $0 == 0 && $0.sign == .plus } ?? false
        case .message, .group: false
        default: (value as? NSNumber)?.doubleValue == 0
        }
    }

    private static func defaultValue(_ field: Field, enums: [String: EnumShape]) -> Any {
        switch field.type {
        case .string, .bytes: ""
        case .bool: false
        case .int64, .uint64, .sint64, .fixed64, .sfixed64: "0"
        case .enum: enums[field.typeName]?.names[0] ?? 0
        default: 0
        }
    }

    static func wireType(of type: Google_Protobuf_FieldDescriptorProto.TypeEnum) -> Int {
        switch type {
        case .double, .fixed64, .sfixed64: 1
        case .float, .fixed32, .sfixed32: 5
        case .string, .bytes, .message: 2
        case .group: 3
        default: 0
        }
    }

    static func isPackable(_ type: Google_Protobuf_FieldDescriptorProto.TypeEnum) -> Bool {
        ![.string, .bytes, .message, .group].contains(type)
    }
}

// MARK: - Wire format

private struct Writer {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func tag(_ number: Int, wireType: Int) { varint(UInt64(number << 3 | wireType)) }

    mutating func fixed32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }

    mutating func fixed64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }

    mutating func lengthDelimited(_ payload: [UInt8]) {
        varint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }
}

private struct Reader {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }

    typealias Failure = ContractCodec.Failure

    mutating func varint(path: String) throws(Failure) -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard index < bytes.count else { throw Failure("\(path): truncated varint") }
            let byte = bytes[index]
            index += 1
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte < 0x80 { return value }
        }
        throw Failure("\(path): varint longer than 10 bytes")
    }

    mutating func tag(path: String) throws(Failure) -> (number: Int, wireType: Int) {
        let key = try varint(path: path)
        let number = key >> 3
        guard number > 0, number <= 536_870_911 else { throw Failure("\(path): field number \(number) is out of range") }
        return (Int(number), Int(key & 7))
    }

    mutating func fixed32(path: String) throws(Failure) -> UInt32 {
        guard bytes.count - index >= 4 else { throw Failure("\(path): truncated fixed32") }
        defer { index += 4 }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[index + $1]) << UInt32(8 * $1) }
    }

    mutating func fixed64(path: String) throws(Failure) -> UInt64 {
        guard bytes.count - index >= 8 else { throw Failure("\(path): truncated fixed64") }
        defer { index += 8 }
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[index + $1]) << UInt64(8 * $1) }
    }

    mutating func lengthDelimited(path: String) throws(Failure) -> [UInt8] {
        let length = try varint(path: path)
        guard length <= UInt64(bytes.count - index) else { throw Failure("\(path): length \(length) runs past the message") }
        defer { index += Int(length) }
        return Array(bytes[index..<index + Int(length)])
    }

    mutating func skip(wireType: Int, path: String) throws(Failure) {
        switch wireType {
        case 0: _ = try varint(path: path)
        case 1: _ = try fixed64(path: path)
        case 2: _ = try lengthDelimited(path: path)
        case 5: _ = try fixed32(path: path)
        default: throw Failure("\(path): unsupported wire type \(wireType)")
        }
    }
}

extension ContractCodec {
    /// A compiled-in message as JSON for people (`JSONStyle.readable`), keys sorted: what the
    /// plugins' own CLI commands print. `descriptorSet` must define the message's type.
    public static func readableJSON(_ message: some SwiftProtobuf.Message, descriptorSet: Data) throws -> String {
        let codec = try ContractCodec(descriptorSets: [descriptorSet])
        let object = try codec.decode(try message.serializedData(), as: type(of: message).protoMessageName, style: .readable)
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

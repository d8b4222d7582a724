import Foundation
public import SwiftProtobuf

/// What every typed request and event is held to before a handler sees it: each string
/// and bytes field within a byte limit, each enum one of its named values, nesting within
/// a depth. So a 1 MB call sign or datum 99 is INVALID_ARGUMENT at the door, in every
/// plugin, not a value some handler forgets to check. Contracts document tighter limits
/// per field where they have them, and the plugins check those.
public struct MessageBounds: Sendable {
    /// Default for any string or bytes field: a report of 8 KiB is the longest free text.
    public static let defaultMaxFieldBytes = 8_192
    public var maxFieldBytes: Int
    public var maxDepth: Int

    public init(maxFieldBytes: Int = defaultMaxFieldBytes, maxDepth: Int = 32) {
        self.maxFieldBytes = maxFieldBytes
        self.maxDepth = maxDepth
    }

    /// INVALID_ARGUMENT naming the message type and field number of the first violation.
    public func check<M: SwiftProtobuf.Message>(_ message: M) throws(BusClientError) {
        var visitor = BoundsVisitor(bounds: self, path: M.protoMessageName, depth: 0)
        do {
            try message.traverse(visitor: &visitor)
        } catch let error as BusClientError {
            throw error
        } catch {
            throw BusClientError(.invalidArgument, "\(M.protoMessageName): \(error)")
        }
    }
}

private struct BoundsVisitor: SwiftProtobuf.Visitor {
    let bounds: MessageBounds
    let path: String
    let depth: Int

    func refuse(_ fieldNumber: Int, _ why: String) -> BusClientError {
        BusClientError(.invalidArgument, "\(path) field \(fieldNumber): \(why)")
    }

    func checkBytes(_ count: Int, _ fieldNumber: Int) throws {
        guard count <= bounds.maxFieldBytes else {
            throw refuse(fieldNumber, "\(count) bytes is longer than the limit of \(bounds.maxFieldBytes)")
        }
    }

    mutating func visitSingularDoubleField(value: Double, fieldNumber: Int) throws {}
    mutating func visitSingularInt64Field(value: Int64, fieldNumber: Int) throws {}
    mutating func visitSingularUInt64Field(value: UInt64, fieldNumber: Int) throws {}
    mutating func visitSingularBoolField(value: Bool, fieldNumber: Int) throws {}
    mutating func visitSingularStringField(value: String, fieldNumber: Int) throws { try checkBytes(value.utf8.count, fieldNumber) }
    mutating func visitSingularBytesField(value: Data, fieldNumber: Int) throws { try checkBytes(value.count, fieldNumber) }

    mutating func visitSingularEnumField<E: SwiftProtobuf.Enum>(value: E, fieldNumber: Int) throws {
        guard let all = E.self as? any CaseIterable.Type, Self.names(all, contains: value) else {
            throw refuse(fieldNumber, "\(value.rawValue) is not a value of \(E.self)")
        }
    }

    mutating func visitRepeatedEnumField<E: SwiftProtobuf.Enum>(value: [E], fieldNumber: Int) throws {
        for element in value { try visitSingularEnumField(value: element, fieldNumber: fieldNumber) }
    }

    mutating func visitPackedEnumField<E: SwiftProtobuf.Enum>(value: [E], fieldNumber: Int) throws {
        try visitRepeatedEnumField(value: value, fieldNumber: fieldNumber)
    }

    mutating func visitSingularMessageField<M: SwiftProtobuf.Message>(value: M, fieldNumber: Int) throws {
        guard depth < bounds.maxDepth else { throw refuse(fieldNumber, "nested deeper than \(bounds.maxDepth)") }
        var nested = BoundsVisitor(bounds: bounds, path: "\(path).\(fieldNumber)", depth: depth + 1)
        try value.traverse(visitor: &nested)
    }

    mutating func visitMapField<KeyType, ValueType: MapValueType>(
        fieldType: _ProtobufMap<KeyType, ValueType>.Type, value: _ProtobufMap<KeyType, ValueType>.BaseType, fieldNumber: Int) throws {
        for (key, element) in value {
            if let text = key as? String { try checkBytes(text.utf8.count, fieldNumber) }
            if let text = element as? String { try checkBytes(text.utf8.count, fieldNumber) }
        }
    }

    mutating func visitMapField<KeyType, ValueType>(
        fieldType: _ProtobufEnumMap<KeyType, ValueType>.Type, value: _ProtobufEnumMap<KeyType, ValueType>.BaseType, fieldNumber: Int
    ) throws where ValueType.RawValue == Int {
        for element in value.values { try visitSingularEnumField(value: element, fieldNumber: fieldNumber) }
    }

    mutating func visitMapField<KeyType, ValueType>(
        fieldType: _ProtobufMessageMap<KeyType, ValueType>.Type, value: _ProtobufMessageMap<KeyType, ValueType>.BaseType, fieldNumber: Int) throws {
        for element in value.values { try visitSingularMessageField(value: element, fieldNumber: fieldNumber) }
    }

    mutating func visitUnknown(bytes: Data) throws {}

    /// Whether `value` is one of the enum's named cases (not UNRECOGNIZED).
    static func names<E: SwiftProtobuf.Enum>(_ all: any CaseIterable.Type, contains value: E) -> Bool {
        func open<C: CaseIterable>(_ type: C.Type) -> Bool {
            type.allCases.contains { ($0 as? E)?.rawValue == value.rawValue }
        }
        return open(all)
    }
}

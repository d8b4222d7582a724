import XunfangPluginKit

/// What people read for the history's keys: station and grid names (GridModel's), case
/// type names in the county's table (盗窃 for theft, from Dispatch), road names (OSM's,
/// through GridModel), hours as 08:00-09:00 and weekdays as 星期一. The store keeps the
/// latest of each, so the report command names things without the bus.
public struct Labels: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case area, type, road
    }

    public var areas: [String: String] = [:]
    public var types: [String: String] = [:]
    /// Road segment ("<node>-<node>") to its road's name.
    public var roads: [String: String] = [:]

    public init(areas: [String: String] = [:], types: [String: String] = [:], roads: [String: String] = [:]) {
        self.areas = areas
        self.types = types
        self.roads = roads
    }

    /// A station's or grid's name, or its id while none is known.
    public func area(_ id: String) -> String { named(areas[id]) ?? id }

    /// A case type's name, or its code.
    public func type(_ code: String) -> String { named(types[code]) ?? code }

    /// The road a segment belongs to; an unnamed one by its segment, so that two unnamed
    /// village roads never add up as one.
    public func road(_ segment: String) -> String { named(roads[segment]) ?? "无名道路 \(segment)" }

    /// One breakdown key as people read it.
    public func key(_ dimension: Breakdown.Dimension, _ key: String) -> String {
        switch dimension {
        case .station, .grid: area(key)
        case .type: type(key)
        case .roadSegment: key == "-" || key.isEmpty ? key : road(key)
        case .hour: Int(key).map { String(format: "%02d:00-%02d:00", $0, ($0 + 1) % 24) } ?? key
        case .weekday: Int(key).map(ChinaTime.weekdayName) ?? key
        case .placeType: key
        case .county: key.isEmpty ? "本级" : key
        }
    }

    private func named(_ name: String?) -> String? {
        guard let name, !name.isEmpty else { return nil }
        return name
    }
}

import Foundation
import XunfangGeo
import XunfangPluginKit
import CommunityPolicingContract

/// An alert as an OASIS CAP 1.2 document: private, addressed to the member by id (their
/// phone stays with the notifier that needs it), one `<info>` in Chinese, one `<area>`
/// a hot grid (its outline as a polygon) or, where the outline is unknown, its description.
enum Cap {
    static let namespace = "urn:oasis:names:tc:emergency:cap:1.2"

    /// A place the alert is about: a hot grid with its outline (WGS84), if known. The
    /// outline is written as CAP's polygon once, not once for each of a warning's alerts.
    struct Area: Sendable {
        var description: String
        /// Nil for an outline of fewer than three points.
        let polygon: String?

        init(description: String, outline: [GeoPoint]) {
            self.description = description
            polygon = Cap.polygon(outline)
        }
    }

    /// - Parameter sender: the county's sender id; CAP forbids spaces, commas and `<&` in it.
    /// How an alert reads: a warning's hot hours, or a watch-and-report request's urgency.
    struct Style: Sendable {
        var event = "治安预警"
        var urgency = "Expected"
        var severity = "Moderate"
        var certainty = "Likely"
        /// Before the hot windows and types in `<description>`.
        var lead = ""
        var instruction = "请在所列时段加强所列路段巡查，发现可疑情况立即报告，不要自行处置。"
        static let warning = Style()
    }

    static func document(_ alert: Xunfang_Community_V1_Alert, sender: String, areas: [Area], style: Style = .warning) -> String {
        let windows = alert.windows.map { "\(ChinaTime.hourMinute(milliseconds: $0.start))-\(ChinaTime.hourMinute(milliseconds: $0.end)) \($0.segment)" }
        let effective = alert.windows.map(\.start).min() ?? alert.sendAt
        var xml = XMLText(capacity: 2_048)
        xml.line(#"<?xml version="1.0" encoding="UTF-8"?>"#)
        xml.line(#"<alert xmlns="\#(namespace)">"#)
        xml.element("identifier", "\(sender).\(alert.id)")
        xml.element("sender", sender)
        xml.element("sent", time(alert.sendAt))
        xml.element("status", "Actual")
        xml.element("msgType", "Alert")
        xml.element("source", alert.source)
        xml.element("scope", "Private")
        xml.element("addresses", alert.memberID)
        xml.line("<info>")
        xml.element("language", "zh-CN")
        xml.element("category", "Security")
        xml.element("event", style.event)
        xml.element("responseType", "Monitor")
        xml.element("urgency", style.urgency)
        xml.element("severity", style.severity)
        xml.element("certainty", style.certainty)
        xml.element("effective", time(effective))
        xml.element("expires", time(alert.expires))
        xml.element("senderName", "\(alert.stationID) 群防群治")
        xml.element("headline", alert.headline)
        xml.element("description", style.lead + "高发时段与路段：" + windows.joined(separator: "；")
                    + (alert.caseTypeNames.isEmpty ? "" : "。高发警情：" + alert.caseTypeNames.joined(separator: "、")))
        xml.element("instruction", style.instruction)
        for area in areas {
            xml.line("<area>")
            xml.element("areaDesc", area.description)
            if let polygon = area.polygon { xml.element("polygon", polygon) }
            xml.line("</area>")
        }
        xml.line("</info>")
        xml.line("</alert>")
        return xml.text
    }

    /// CAP's polygon: "lat,lon" pairs, closed (first = last), at least four.
    static func polygon(_ outline: [GeoPoint]) -> String? {
        guard outline.count >= 3 else { return nil }
        let closed = outline.first == outline.last ? outline : outline + [outline[0]]
        guard closed.count >= 4 else { return nil }
        return closed.map { String(format: "%.6f,%.6f", $0.latitude, $0.longitude) }.joined(separator: " ")
    }

    /// CAP's dateTime: China time with its offset, no fractions.
    static func time(_ milliseconds: Int64) -> String { ChinaTime.iso8601(milliseconds: milliseconds) }
}

/// An XML document built as UTF-8 bytes, one element a line: a fan-out writes ten thousand
/// documents at once, and appending bytes is several times faster than joining strings.
struct XMLText {
    private var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    mutating func line(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        bytes.append(UInt8(ascii: "\n"))
    }

    /// `<name>value</name>`, the value escaped.
    mutating func element(_ name: String, _ value: String) {
        bytes.append(UInt8(ascii: "<"))
        bytes.append(contentsOf: name.utf8)
        bytes.append(UInt8(ascii: ">"))
        escape(value)
        bytes.append(contentsOf: "</".utf8)
        bytes.append(contentsOf: name.utf8)
        bytes.append(contentsOf: ">\n".utf8)
    }

    private mutating func escape(_ value: String) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "&"): bytes.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): bytes.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): bytes.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): bytes.append(contentsOf: "&quot;".utf8)
            default: bytes.append(byte)
            }
        }
    }
}

import Foundation
import XunfangGeo
import XunfangPluginKit
import CommunityPolicingContract

/// An alert as an OASIS CAP 1.2 document: private, addressed to the member by id (their
/// phone stays with the notifier that needs it), one `<info>` in Chinese, one `<area>`
/// a hot grid (its outline as a polygon) or, where the outline is unknown, its description.
enum Cap {
    static let namespace = "urn:oasis:names:tc:emergency:cap:1.2"

    /// A place the alert is about: a hot grid with its outline (WGS84), if known.
    struct Area: Sendable {
        var description: String
        var outline: [GeoPoint]
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
        var text = ""
        text.reserveCapacity(1_536)
        func line(_ part: String) {
            text += part
            text += "\n"
        }
        func element(_ name: String, _ value: String) { line(Cap.element(name, value)) }
        line(#"<?xml version="1.0" encoding="UTF-8"?>"#)
        line(#"<alert xmlns="\#(namespace)">"#)
        element("identifier", "\(sender).\(alert.id)")
        element("sender", sender)
        element("sent", time(alert.sendAt))
        element("status", "Actual")
        element("msgType", "Alert")
        element("source", alert.source)
        element("scope", "Private")
        element("addresses", alert.memberID)
        line("<info>")
        element("language", "zh-CN")
        element("category", "Security")
        element("event", style.event)
        element("responseType", "Monitor")
        element("urgency", style.urgency)
        element("severity", style.severity)
        element("certainty", style.certainty)
        element("effective", time(effective))
        element("expires", time(alert.expires))
        element("senderName", "\(alert.stationID) 群防群治")
        element("headline", alert.headline)
        element("description", style.lead + "高发时段与路段：" + windows.joined(separator: "；")
                + (alert.caseTypeNames.isEmpty ? "" : "。高发警情：" + alert.caseTypeNames.joined(separator: "、")))
        element("instruction", style.instruction)
        for area in areas {
            line("<area>")
            element("areaDesc", area.description)
            if let polygon = polygon(area.outline) { element("polygon", polygon) }
            line("</area>")
        }
        line("</info>")
        line("</alert>")
        return text
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

    static func element(_ name: String, _ text: String) -> String { "<\(name)>\(escaped(text))</\(name)>" }

    static func escaped(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: "\"") }) else {
            return text
        }
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }
}

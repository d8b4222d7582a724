@testable import CommunityPolicingPlugin
import CommunityPolicingContract
import Foundation
import GridModelContract
import GridModelPlugin
import Testing
import XunfangPluginKit

@Suite("Watch and report")
struct WatchTests {
    @Test("a robbery's watch alerts the members on roads within its drive in the coming hours, urgently, once; it closes early or by itself and frees them")
    func watch() async throws {
        let (stack, gridModel, plugin, desk, members) = try await CommunityStack.demo()
        let service = CommunityStack.service
        // The robbery happens in the middle of the first grid; the village team there patrols 18:00-22:00.
        var areas = Xunfang_GridModel_V1_ListAreasRequest()
        areas.kind = .grid
        areas.withOutlines = true
        let grid = try #require(try await desk.call("/xunfang.grid_model.v1.GridModel/ListAreas", areas, as: Xunfang_GridModel_V1_ListAreasResponse.self).areas.first)
        let outline = grid.outline[0].points
        var request = Xunfang_Community_V1_WatchRequest()
        request.incidentID = "INC-000042"
        request.typeCode = "robbery"
        request.typeName = "抢劫"
        request.stationID = grid.parentID
        request.longitude = outline.map(\.longitude).reduce(0, +) / Double(outline.count)
        request.latitude = outline.map(\.latitude).reduce(0, +) / Double(outline.count)
        request.description_p = "两名男子骑黑色摩托车向北逃离"
        request.hours = 12
        request.minutes = 3

        // Which roads 3 minutes' drive reaches, asked of GridModel as the plugin asks.
        var reach = Xunfang_GridModel_V1_IsochroneRequest()
        reach.origin.longitude = request.longitude
        reach.origin.latitude = request.latitude
        reach.minutes = 3
        reach.withNetwork = true
        let network = try await desk.call("/xunfang.grid_model.v1.GridModel/Isochrone", reach, as: Xunfang_GridModel_V1_IsochroneResponse.self).network
        let reached = Set(Watches.segments(network.map { (from: $0.fromNode, to: $0.toNode) }))

        let opened = try await desk.call(service + "RequestWatch", request, as: Xunfang_Community_V1_WatchResponse.self)
        let alerts = opened.alerts.alerts
        #expect(opened.watch.id == "W-1" && opened.watch.open && opened.watch.roadSegments == UInt32(reached.count) && !reached.isEmpty)
        #expect(opened.watch.expires == mondayTen + 12 * hour, "12 hours from the hour under way")
        #expect(!alerts.isEmpty && opened.watch.alerts == UInt32(alerts.count), "note: \(opened.alerts.note)")
        #expect(alerts.allSatisfy { alert in alert.windows.allSatisfy { reached.contains($0.segment) } && alert.source == "watch INC-000042" })
        #expect(alerts.allSatisfy { $0.windows.allSatisfy { $0.start >= mondayTen && $0.end <= mondayTen + 12 * hour } })
        #expect(alerts.allSatisfy { $0.headline.hasPrefix("协查：") && $0.caseTypes == ["robbery"] })
        // Every alerted member works a reached road, or one touching it, in the 12 hours.
        let byID = Dictionary(uniqueKeysWithValues: members.map { ($0.id, $0) })
        let reachedNodes = Set(reached.flatMap { $0.split(separator: "-").map(String.init) })
        #expect(alerts.allSatisfy { alert in byID[alert.memberID]!.roadSegments.contains { $0.split(separator: "-").contains { reachedNodes.contains(String($0)) } } })

        // Its CAP document says how urgent it is, and is valid CAP 1.2.
        let file = "\(stack.directory)/alerts/\(alerts[0].id).xml"
        for _ in 0..<4_800 where !FileManager.default.fileExists(atPath: file) { try await Task.sleep(for: .milliseconds(25)) }
        let document = try String(contentsOfFile: file, encoding: .utf8)
        #expect(document.contains("<event>协查通报</event>") && document.contains("<urgency>Immediate</urgency>") && document.contains("两名男子骑黑色摩托车向北逃离"))
        #expect(document.contains("<areaDesc>案发地周边3分钟车程</areaDesc>") && document.contains("<polygon>"))
        #expect(try CapTests.schemaErrors(document) == nil)

        // Asked again: the same watch, nothing issued again. Out of bounds: refused.
        let again = try await desk.call(service + "RequestWatch", request, as: Xunfang_Community_V1_WatchResponse.self)
        #expect(again.watch.id == "W-1" && again.alerts.alreadyHandled && again.alerts.alerts.count == alerts.count)
        for bad in [{ (r: inout Xunfang_Community_V1_WatchRequest) in r.hours = 13 }, { $0.minutes = 11 }, { $0.longitude = 0; $0.latitude = 0 }, { $0.incidentID = "" }] {
            var refused = request
            refused.incidentID = "INC-000043"
            bad(&refused)
            await #expect(throws: BusClientError.self) { try await desk.call(service + "RequestWatch", refused, as: Xunfang_Community_V1_WatchResponse.self) }
        }
        var listed = Xunfang_Community_V1_ListWatchesRequest()
        listed.openOnly = true
        #expect(try await desk.call(service + "ListWatches", listed, as: Xunfang_Community_V1_ListWatchesResponse.self).watches.map(\.id) == ["W-1"])

        // Closed early (the suspects caught): its members are free for the evening's warning.
        var close = Xunfang_Community_V1_CloseWatchRequest()
        close.watchID = "W-1"
        close.by = "王芳"
        close.why = "嫌疑人已抓获"
        let closed = try await desk.call(service + "CloseWatch", close, as: Xunfang_Community_V1_Watch.self)
        #expect(!closed.open && closed.closedAt == mondayTen && closed.closedBy == "王芳")
        await #expect(throws: BusClientError.self) { try await desk.call(service + "CloseWatch", close, as: Xunfang_Community_V1_Watch.self) }
        #expect(try await desk.call(service + "ListWatches", listed, as: Xunfang_Community_V1_ListWatchesResponse.self).watches.isEmpty)
        let alerted = try #require(byID[alerts[0].memberID])
        var issue = Xunfang_Community_V1_IssueAlertsRequest()
        issue.warning.stationID = request.stationID
        issue.warning.day = "2025-11-30"
        issue.warning.hotHours = alerted.hours.map { $0.startMinute / 60 }.filter { $0 >= 10 }
        issue.warning.roadSegments = [alerted.roadSegments[0]]
        let evening = try await desk.call(service + "IssueAlerts", issue, as: Xunfang_Community_V1_IssueAlertsResponse.self)
        #expect(evening.alerts.contains { $0.memberID == alerted.id } && evening.skipped.committed == 0, "note: \(evening.note)")

        plugin.task.cancel()
        await plugin.client.close()
        await gridModel.close()
        await desk.close()
        await stack.server.stop()
    }
}

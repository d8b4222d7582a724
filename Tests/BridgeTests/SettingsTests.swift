import Foundation
import Logging
import Testing
@testable import BridgePlugin
import DispatchContract
import XunfangNATS
import XunfangPluginKit

@Suite("Bridge settings and what crosses")
struct SettingsTests {
    func context(_ settings: [String: String]) -> PluginContext {
        PluginContext(instance: "bridge", dataDirectory: NSTemporaryDirectory(), settings: settings,
                      logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    @Test("a county's settings: servers, exports by default, import rules with stable consumer names")
    func parses() throws {
        let settings = try BridgeSettings(context: context([
            "BRIDGE_COUNTY": "pengzhou", "BRIDGE_NATS": "nats://10.1.0.5:4222, tls://10.1.0.6:4443",
            "BRIDGE_IMPORT": "chengdu:checkpoint.seal,*:incident.>", "BRIDGE_REPLICAS": "3",
        ]))
        #expect(settings.county == "pengzhou" && settings.replicas == 3 && settings.stream == "XUNFANG")
        #expect(settings.servers == [NATSServerAddress(host: "10.1.0.5", port: 4222), NATSServerAddress(host: "10.1.0.6", port: 4443, tls: true)])
        #expect(settings.exports == BridgeSettings.defaultExports)
        #expect(settings.imports.map(\.subject) == ["xunfang.chengdu.checkpoint.seal", "xunfang.*.incident.>"])
        let consumers = settings.imports.map { $0.consumer(for: "pengzhou") }
        #expect(consumers == ["pengzhou__chengdu_checkpoint_seal", "pengzhou__any_incident_all"])
        #expect(consumers.allSatisfy { !$0.contains(".") && !$0.contains("*") && !$0.contains(">") })
        let none = try BridgeSettings(context: context(["BRIDGE_COUNTY": "a", "BRIDGE_NATS": "127.0.0.1:4222", "BRIDGE_EXPORT": "none"]))
        #expect(none.exports.isEmpty)
    }

    @Test("every bad setting is refused naming its key")
    func refusals() throws {
        let base = ["BRIDGE_COUNTY": "a", "BRIDGE_NATS": "nats://127.0.0.1:4222"]
        let cases: [([String: String], String)] = [
            (["BRIDGE_COUNTY": "Peng Zhou"], "BRIDGE_COUNTY"),
            (["BRIDGE_COUNTY": ""], "BRIDGE_COUNTY"),
            (["BRIDGE_NATS": ""], "BRIDGE_NATS"),
            (["BRIDGE_NATS": "http://x"], "BRIDGE_NATS"),
            (["BRIDGE_EXPORT": "incident.>.x"], "BRIDGE_EXPORT"),
            (["BRIDGE_IMPORT": "incident.>"], "BRIDGE_IMPORT"),
            (["BRIDGE_IMPORT": "City:incident.>"], "BRIDGE_IMPORT"),
            (["BRIDGE_REPLICAS": "7"], "BRIDGE_REPLICAS"),
            (["BRIDGE_STREAM": "a.b"], "BRIDGE_STREAM"),
            (["BRIDGE_NATS_USER": "u"], "BRIDGE_NATS_USER"),
            (["BRIDGE_NATS_CA": "/nonexistent.pem"], "BRIDGE_NATS_CA"),
        ]
        for (change, key) in cases {
            do {
                _ = try BridgeSettings(context: context(base.merging(change) { $1 }))
                Issue.record("\(change) was accepted")
            } catch {
                #expect(error.message.contains(key), "\(change): \(error.message)")
            }
        }
    }

    @Test("an incident leaves the county without the caller's words; an undecodable one does not leave")
    func personalData() throws {
        var outbound = Outbound(lentUnits: [], positionEverySeconds: 30)
        var incident = Xunfang_Dispatch_V1_Incident()
        incident.id = "INC-1"
        incident.report = "the caller's words"
        guard case .send(let out) = outbound.decide(topic: "incident.created", payload: try incident.serializedData()) else {
            Issue.record("an incident is sent")
            return
        }
        let crossed = try Xunfang_Dispatch_V1_Incident(serializedBytes: out)
        #expect(crossed.id == "INC-1" && crossed.report.isEmpty)
        #expect(outbound.decide(topic: "incident.created", payload: Data([0xFF, 0xFF, 0xFF])) != .send(Data([0xFF, 0xFF, 0xFF])))
        if case .refuse = outbound.decide(topic: "incident.created", payload: Data([0xFF, 0xFF, 0xFF])) {} else { Issue.record("refused") }
        #expect(outbound.decide(topic: "situation.colours", payload: Data([1, 2])) == .send(Data([1, 2])))
    }

    @Test("only lent units' positions cross, at most once per interval each, by the positions' own time")
    func lentPositions() throws {
        var outbound = Outbound(lentUnits: ["PZ-07", "PZ-09"], positionEverySeconds: 30)
        func position(_ unit: String, at seconds: Int64) throws -> Data {
            var position = Xunfang_Dispatch_V1_UnitPosition()
            position.callSign = unit
            position.at = 1_780_000_000_000 + seconds * 1_000
            return try position.serializedData()
        }
        var sent: [String] = []
        for second in stride(from: Int64(0), through: 90, by: 5) {
            for unit in ["PZ-07", "PZ-09", "PZ-11"] {
                if case .send = outbound.decide(topic: "unit.position", payload: try position(unit, at: second)) { sent.append("\(unit)@\(second)") }
            }
        }
        #expect(sent == ["PZ-07@0", "PZ-09@0", "PZ-07@30", "PZ-09@30", "PZ-07@60", "PZ-09@60", "PZ-07@90", "PZ-09@90"])
        let settings = try BridgeSettings(context: context(["BRIDGE_COUNTY": "a", "BRIDGE_NATS": "127.0.0.1:4222", "BRIDGE_LENT_UNITS": "PZ-07, PZ-09"]))
        #expect(settings.lentUnits == ["PZ-07", "PZ-09"] && settings.exports.last == "unit.position")
    }

    @Test("subjects name their county; only xunfang.<county>.<topic> is brought in")
    func origins() {
        #expect(ImportMirror.origin(of: "xunfang.pengzhou.incident.created")! == ("pengzhou", "incident.created"))
        #expect(ImportMirror.origin(of: "other.pengzhou.incident") == nil)
        #expect(ImportMirror.origin(of: "xunfang.pengzhou") == nil)
        #expect(BridgeSettings.subject(county: "a", topic: "checkpoint.seal") == "xunfang.a.checkpoint.seal")
    }
}

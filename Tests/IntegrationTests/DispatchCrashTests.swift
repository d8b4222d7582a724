import Foundation
import Testing
import XunfangTestSupport
import XunfangPluginKit
import DispatchContract

@Suite("Out of process: Dispatch killed while incidents pour in", .serialized)
struct DispatchCrashTests {
    static let secret = "harness-secret-0123456789abcdef"

    let county = testCounty("Crash County", durableTopics: ["incident.>", "dispatch.order.>"], clients: """
      - name: harness
        credential: \(secret)
        acl: { subscribe: ["incident.>"], call: ["*"] }

    """)

    @Test("1,000 incidents while Dispatch is killed twice: each stored once and announced, redeliveries de-duplicated")
    func killDispatchTwice() async throws {
        let directory = try countyDirectory("xf-crash", county: county)
        let up = try startXunfang(["up", "--config", "county.yaml"], in: directory)
        defer {
            if up.isRunning { up.terminate() }
            up.waitUntilExit()
        }
        let harness = try #require(await harnessClient(in: directory, secret: Self.secret))
        let announcements = try await harness.subscribe("incident.created", durable: "harness-created")

        var ids: [String] = []
        var kills = 0
        for index in 0..<1_000 {
            if index == 300 || index == 650, let pid = try await pluginChild("xunfang-plugin-dispatch", of: up.processIdentifier) {
                #expect(kill(pid, SIGKILL) == 0)
                kills += 1
            }
            ids.append(try await acknowledgedIntake(harness, index: index, prefix: "harness"))
        }
        #expect(kills == 2)
        #expect(Set(ids).count == 1_000, "every call is its own incident")

        var list = Xunfang_Dispatch_V1_ListIncidentsRequest()
        list.limit = 5_000
        let stored = try await harness.call("/xunfang.dispatch.v1.Dispatch/ListIncidents", list, as: Xunfang_Dispatch_V1_ListIncidentsResponse.self)
        #expect(stored.incidents.count == 1_000)
        #expect(Set(stored.incidents.map(\.id)) == Set(ids))

        // Every incident is announced on the durable topic; redeliveries are de-duplicated by id.
        var announced: Set<String> = []
        var deliveries = 0
        let deadline = ContinuousClock.now + .seconds(60)
        for await delivery in announcements {
            deliveries += 1
            announced.insert(try delivery.decode(Xunfang_Dispatch_V1_Incident.self).id)
            delivery.ack()
            if announced.count == 1_000 || ContinuousClock.now > deadline { break }
        }
        #expect(announced == Set(ids))
        #expect(deliveries >= 1_000)
        await harness.close()
    }

    @Test("kill -9 of up during 2,000 intakes: its plugins stop, up starts again at once and serves, no acknowledged incident lost")
    func killUp() async throws {
        let directory = try countyDirectory("xf-crash", county: county)
        var up = try startXunfang(["up", "--config", "county.yaml"], in: directory)
        defer {
            if up.isRunning { up.terminate() }
            up.waitUntilExit()
        }
        let harness = try #require(await harnessClient(in: directory, secret: Self.secret))

        var acknowledged: [String] = []
        var orphans: [pid_t] = []
        for index in 0..<2_000 {
            if index == 700 {
                orphans = []
                for plugin in ["xunfang-plugin-dispatch", "xunfang-plugin-grid-model"] {
                    if let pid = try await pluginChild(plugin, of: up.processIdentifier) { orphans.append(pid) }
                }
                #expect(orphans.count == 2)
                #expect(kill(up.processIdentifier, SIGKILL) == 0)
                try await exited(up)
                up = try startXunfang(["up", "--config", "county.yaml"], in: directory)
            }
            acknowledged.append(try await acknowledgedIntake(harness, index: index, prefix: "harness"))
        }
        #expect(up.isRunning, "the second up kept running")
        // The first up's plugins saw their supervisor go and stopped.
        #expect(try await eventually { orphans.allSatisfy { kill($0, 0) != 0 } })
        #expect(Set(acknowledged).count == 2_000)
        var list = Xunfang_Dispatch_V1_ListIncidentsRequest()
        list.limit = 5_000
        let stored = try await harness.call("/xunfang.dispatch.v1.Dispatch/ListIncidents", list, as: Xunfang_Dispatch_V1_ListIncidentsResponse.self)
        #expect(Set(stored.incidents.map(\.id)).isSuperset(of: Set(acknowledged)), "every acknowledged incident is stored")
        await harness.close()
    }
}

/// Reports call `index` to Dispatch as a desk would: retried until Dispatch answers (the
/// external id makes a retry safe), for up to two minutes. Returns the incident's id.
func acknowledgedIntake(_ client: BusClient, index: Int, prefix: String) async throws -> String {
    var request = Xunfang_Dispatch_V1_IntakeRequest()
    request.typeCode = ["theft", "dispute", "help", "noise"][index % 4]
    request.location.longitude = 104.20 + Double(index % 40) * 0.004
    request.location.latitude = 30.90 + Double(index / 40 % 25) * 0.006
    request.externalID = "\(prefix)-\(index)"
    let deadline = ContinuousClock.now + .seconds(120)
    while ContinuousClock.now < deadline {
        if let answer = try? await client.call("/xunfang.dispatch.v1.Dispatch/Intake", request, as: Xunfang_Dispatch_V1_IntakeResponse.self,
                                               timeout: .seconds(5)) {
            return answer.incident.id
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw BusClientError(.deadlineExceeded, "intake \(index) was never answered")
}

import CheckpointControlContract
import DispatchContract
import Foundation
import Testing
import XunfangGeo
import XunfangPluginKit

@Suite("Live containment over the bus", .serialized)
struct LiveContainmentTests {
    /// Units reported 200 m out on each arm of the crossroads; the suspect left the crossing just now.
    func start(_ stack: RegistryStack, _ desk: BusClient) async throws -> Xunfang_Checkpoint_V1_LiveContainment {
        let request = Xunfang_Checkpoint_V1_ContainRequest.with {
            $0.ring = .with {
                $0.incidentNode = 100
                $0.boundary = 60
                $0.suspectMode = "car"
            }
            $0.suspectLeftAt = stack.now
            $0.officer = "王芳"
        }
        // Terminals report again and again; the plugin hears them once its subscription is up.
        let projection = LocalProjection(origin: Roads.origin)
        for _ in 0..<600 {
            for (callSign, x, y) in [("U1", 200.0, 0.0), ("U2", -200.0, 0.0), ("U3", 0.0, 200.0), ("U4", 0.0, -200.0)] {
                let point = projection.unproject(PlanarPoint(x: x, y: y))
                try await desk.publish("unit.position", Xunfang_Dispatch_V1_UnitPosition.with {
                    $0.callSign = callSign
                    $0.position = .with { $0.longitude = point.longitude; $0.latitude = point.latitude }
                    $0.at = stack.now
                })
            }
            let answer = try await call(desk, "Contain", request, as: Xunfang_Checkpoint_V1_LiveContainment.self)
            if answer.units == 4 { return answer }
            _ = try await call(desk, "StopContainment", Xunfang_Checkpoint_V1_ContainmentRequest.with { $0.id = answer.id },
                               as: Xunfang_Checkpoint_V1_LiveContainment.self)
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BusClientError(.deadlineExceeded, "the unit positions never arrived")
    }

    @Test("a ring from live positions is published as time passes and stops once the suspect may be beyond the boundary")
    func live() async throws {
        let stack = try await RegistryStack.start()
        var plugin = try await stack.plugin()
        let desk = try await stack.desk()
        let updates = try await desk.subscribe("checkpoint.containment")
        let orders = try await desk.subscribe("checkpoint.order.>")
        let first = try await start(stack, desk)
        #expect(first.active && first.ring.feasible && first.startedBy == "desk / 王芳")
        #expect(Set(first.ring.ring.map(\.unit)) == ["U1", "U2", "U3", "U4"])
        // Each unit of the ring is ordered to its point (earlier tries were stood down).
        var orderIterator = orders.makeAsyncIterator()
        func collect(standDown: Bool) async throws -> [String: Xunfang_Checkpoint_V1_SealOrder] {
            var found: [String: Xunfang_Checkpoint_V1_SealOrder] = [:]
            while found.count < 4, let delivery = await orderIterator.next() {
                let order = try delivery.decode(Xunfang_Checkpoint_V1_SealOrder.self)
                if order.activation == first.id && order.standDown == standDown { found[order.position.responder] = order }
            }
            return found
        }
        let ordered = try await collect(standDown: false)
        for point in first.ring.ring {
            #expect(ordered[point.unit]?.position.node == point.node && ordered[point.unit]?.position.etaSeconds == point.police)
        }

        // A restart carries on with the running containment.
        await plugin.close()
        plugin = try await stack.plugin()
        #expect(try await call(desk, "GetContainment", Xunfang_Checkpoint_V1_ContainmentRequest(), as: Xunfang_Checkpoint_V1_LiveContainment.self).active)

        stack.clock.advance(61_000)
        var iterator = updates.makeAsyncIterator()
        var last = Xunfang_Checkpoint_V1_LiveContainment()
        while let delivery = await iterator.next() {
            last = try delivery.decode(Xunfang_Checkpoint_V1_LiveContainment.self)
            if last.id == first.id && !last.active { break }
        }
        #expect(last.endedReason.contains("beyond the boundary"))
        // The chase is over: every unit of the ring stands down.
        #expect(Set(try await collect(standDown: true).keys) == ["U1", "U2", "U3", "U4"])
        let stored = try await call(desk, "GetContainment", Xunfang_Checkpoint_V1_ContainmentRequest.with { $0.id = first.id },
                                    as: Xunfang_Checkpoint_V1_LiveContainment.self)
        #expect(!stored.active)
        await #expect { try await call(desk, "StopContainment", Xunfang_Checkpoint_V1_ContainmentRequest.with { $0.id = first.id },
                                       as: Xunfang_Checkpoint_V1_LiveContainment.self) } throws: { ($0 as? BusClientError)?.code == .failedPrecondition }
        await #expect {
            try await call(desk, "Contain", Xunfang_Checkpoint_V1_ContainRequest.with { $0.ring = .with { $0.incidentNode = 100; $0.boundary = 60; $0.metric = .distance } },
                           as: Xunfang_Checkpoint_V1_LiveContainment.self)
        } throws: { ($0 as? BusClientError)?.code == .invalidArgument && "\($0)".contains("metric must be time") }
        await #expect {
            try await call(desk, "Contain", Xunfang_Checkpoint_V1_ContainRequest.with { $0.ring = .with { $0.incidentNode = 999; $0.boundary = 60 } },
                           as: Xunfang_Checkpoint_V1_LiveContainment.self)
        } throws: { ($0 as? BusClientError)?.code == .notFound }
        await plugin.close()
        await desk.close()
    }
}

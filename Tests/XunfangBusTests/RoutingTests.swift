import Foundation
import Testing
import XunfangBus

import XunfangWire

@Suite("Routing")
struct RoutingTests {
    @Test("wildcards: * matches one token, > one or more", arguments: [
        ("unit.*", "unit.position", true), ("unit.*", "unit.position.gps", false),
        ("unit.>", "unit.position.gps", true), ("unit.>", "unit", false),
        ("*.created", "alarm.created", true), ("alarm.created", "alarm.created", true),
        ("alarm.created", "alarm.closed", false), (">", "a.b.c", true),
    ])
    func wildcards(pattern: String, topic: String, delivered: Bool) {
        let fixture = BrokerFixture(log: nil)
        let (subscriber, subscriberID) = fixture.join("a")
        let (_, publisherID) = fixture.join("b")
        fixture.subscribe(subscriberID, 1, pattern)
        fixture.publish(publisherID, topic, "x")
        #expect(subscriber.delivers.count == (delivered ? 1 : 0))
        if delivered {
            #expect(subscriber.delivers[0].topic == topic)
            #expect(subscriber.delivers[0].publisher == "b")
            #expect(subscriber.delivers[0].subscriptionID == 1)
            #expect(!subscriber.delivers[0].messageID.isEmpty)
        }
    }

    @Test("queue group members share the messages; plain subscribers get all")
    func queueGroups() {
        let fixture = BrokerFixture(log: nil)
        let members = (0..<3).map { index in fixture.join("a", instance: "a-\(index)") }
        for (_, id) in members { fixture.subscribe(id, 1, "work.*", group: "workers") }
        let (watcher, watcherID) = fixture.join("c")
        fixture.subscribe(watcherID, 9, "work.>")
        let (_, publisherID) = fixture.join("b")
        for index in 0..<300 { fixture.publish(publisherID, "work.item", "\(index)") }
        let counts = members.map { $0.0.delivers.count }
        #expect(counts.reduce(0, +) == 300)
        #expect(counts.allSatisfy { $0 == 100 }, "round robin shares evenly: \(counts)")
        #expect(watcher.delivers.count == 300)
    }

    @Test("unsubscribe stops deliveries")
    func unsubscribe() {
        let fixture = BrokerFixture(log: nil)
        let (subscriber, subscriberID) = fixture.join("a")
        let (_, publisherID) = fixture.join("b")
        fixture.subscribe(subscriberID, 1, "x.y")
        fixture.publish(publisherID, "x.y")
        var frame = Frame()
        frame.unsubscribe.subscriptionID = 1
        frame.unsubscribe.receiptRef = 5
        fixture.broker.receive(frame, from: subscriberID)
        fixture.publish(publisherID, "x.y")
        #expect(subscriber.delivers.count == 1)
        #expect(subscriber.frames.contains { if case .receipt(let r) = $0.kind { r.ref == 5 && r.code == 0 } else { false } })
    }

    @Test("request and response travel through the bus with the caller's call id")
    func requestResponse() throws {
        let fixture = BrokerFixture(log: nil)
        let (server, serverID) = fixture.join("a", serves: ["/t.v1.T/Echo"])
        let (caller, callerID) = fixture.join("b")
        fixture.request(callerID, 42, "/t.v1.T/Echo", timeout: 500)
        guard case .request(let forwarded) = server.take().first?.kind else {
            Issue.record("server did not get the request")
            return
        }
        #expect(forwarded.caller == "b")
        #expect(forwarded.timeoutMs == 500)
        var response = Frame()
        response.response.callID = forwarded.callID
        response.response.payload = Data("pong".utf8)
        fixture.broker.receive(response, from: serverID)
        guard case .response(let answer) = caller.take().first?.kind else {
            Issue.record("caller got no response")
            return
        }
        #expect(answer.callID == 42)
        #expect(answer.code == 0)
        #expect(answer.payload == Data("pong".utf8))
    }

    @Test("a request to a service nobody serves gets UNAVAILABLE at once")
    func unavailable() {
        let fixture = BrokerFixture(log: nil)
        let (caller, callerID) = fixture.join("b")
        fixture.request(callerID, 7, "/xunfang.dispatch.v1.Dispatch/Recommend")
        guard case .response(let answer) = caller.frames.first?.kind else {
            Issue.record("no immediate answer")
            return
        }
        #expect(answer.code == StatusCode.unavailable.rawValue)
        #expect(answer.callID == 7)
    }

    @Test("no response before the deadline gives DEADLINE_EXCEEDED; the late response is dropped")
    func deadline() {
        let fixture = BrokerFixture(log: nil)
        let (server, serverID) = fixture.join("a", serves: ["/t.v1.T/Slow"])
        let (caller, callerID) = fixture.join("b")
        fixture.request(callerID, 1, "/t.v1.T/Slow", timeout: 100)
        fixture.clock.advance(99)
        fixture.broker.tick()
        #expect(caller.frames.isEmpty)
        fixture.clock.advance(1)
        fixture.broker.tick()
        guard case .response(let answer) = caller.take().first?.kind else {
            Issue.record("no deadline answer")
            return
        }
        #expect(answer.code == StatusCode.deadlineExceeded.rawValue)
        guard case .request(let forwarded) = server.frames.first?.kind else { return }
        var late = Frame()
        late.response.callID = forwarded.callID
        fixture.broker.receive(late, from: serverID)
        #expect(caller.frames.isEmpty)
        #expect(fixture.broker.stats.lateResponses == 1)
    }

    @Test("callers waiting on a server that disconnects get UNAVAILABLE")
    func serverGone() {
        let fixture = BrokerFixture(log: nil)
        let (_, serverID) = fixture.join("a", serves: ["/t.v1.T/Echo"])
        let (caller, callerID) = fixture.join("b")
        fixture.request(callerID, 3, "/t.v1.T/Echo")
        fixture.broker.disconnect(serverID)
        guard case .response(let answer) = caller.frames.first?.kind else {
            Issue.record("no answer")
            return
        }
        #expect(answer.code == StatusCode.unavailable.rawValue)
    }

    @Test("requests are shared round robin between instances serving the same method")
    func serviceLoadSharing() {
        let fixture = BrokerFixture(log: nil)
        let servers = (0..<2).map { fixture.join("a", instance: "a-\($0)", serves: ["/t.v1.T/Echo"]).0 }
        let (_, callerID) = fixture.join("b")
        for call in 1...10 { fixture.request(callerID, UInt64(call), "/t.v1.T/Echo") }
        #expect(servers.map(\.frames.count) == [5, 5])
    }

    @Test("ACL denials: publish, subscribe and call outside the ACL are refused and nothing is delivered")
    func aclDenials() {
        let fixture = BrokerFixture(log: nil)
        let (watcher, watcherID) = fixture.join("a")
        fixture.subscribe(watcherID, 1, ">")
        let (limited, limitedID) = fixture.join("limited")
        fixture.publish(limitedID, "incident.created", "forged", ref: 11)
        fixture.subscribe(limitedID, 2, "incident.*")
        var subscribe = Frame()
        subscribe.subscribe.subscriptionID = 3
        subscribe.subscribe.pattern = "grid.>"  // wider than its ACL's grid.*
        subscribe.subscribe.receiptRef = 12
        fixture.broker.receive(subscribe, from: limitedID)
        fixture.request(limitedID, 13, "/t.v1.T/Echo")
        fixture.publish(limitedID, "unit.position", "ok", ref: 14)
        let codes = limited.frames.compactMap { frame -> (UInt64, UInt32)? in
            switch frame.kind {
            case .receipt(let r): (r.ref, r.code)
            case .response(let r): (r.callID, r.code)
            case .error(let e): (e.ref, e.code)
            default: nil
            }
        }
        let denied = StatusCode.permissionDenied.rawValue
        #expect(codes.contains { $0 == (11, denied) })
        #expect(codes.contains { $0 == (12, denied) })
        #expect(codes.contains { $0 == (13, denied) })
        #expect(codes.contains { $0 == (14, 0) })
        #expect(codes.filter { $0.1 == denied }.count == 4, "the subscribe without receipt gets an Error frame: \(codes)")
        #expect(codes.contains { $0 == (2, denied) }, "that Error names subscription 2 in its ref: \(codes)")
        #expect(watcher.delivers.map(\.topic) == ["unit.position"])
        #expect(fixture.broker.stats.denials == 4)
    }

    @Test("a refused subscription without a receipt_ref is named by its subscription_id in Error.ref")
    func refusedSubscriptionNamed() {
        let fixture = BrokerFixture()
        let (peer, id) = fixture.join("a")
        fixture.subscribe(id, 7, "grid.*")
        fixture.subscribe(id, 7, "unit.*")        // duplicate id
        fixture.subscribe(id, 8, "a..b")          // invalid pattern
        fixture.subscribe(id, 9, "grid.*", durable: "d")  // durable on a non-durable topic
        var unsubscribe = Frame()
        unsubscribe.unsubscribe.subscriptionID = 42
        fixture.broker.receive(unsubscribe, from: id)
        let errors = peer.take().compactMap { frame -> (UInt64, StatusCode)? in
            if case .error(let error) = frame.kind { return (error.ref, StatusCode(rawValue: error.code)) }
            return nil
        }
        #expect(errors.map(\.0) == [7, 8, 9, 42])
        #expect(errors.map(\.1) == [.alreadyExists, .invalidArgument, .invalidArgument, .notFound])
    }

    @Test("invalid topics and patterns are refused with INVALID_ARGUMENT", arguments: ["", "a..b", "a.>.b", "a b", "a.*"])
    func invalidTopics(topic: String) {
        let fixture = BrokerFixture(log: nil)
        let (peer, id) = fixture.join("a")
        fixture.publish(id, topic, ref: 1)
        guard case .receipt(let receipt) = peer.frames.first?.kind else {
            Issue.record("no receipt")
            return
        }
        #expect(receipt.code == StatusCode.invalidArgument.rawValue)
    }

    @Test("a slow plain subscriber keeps only the newest messages up to its queue limit",
          arguments: [false, true])
    func slowConsumerDropsOldest(heldAsFrames: Bool) {
        let fixture = BrokerFixture(log: nil)
        let (slow, slowID) = fixture.join("a")
        slow.takesFrames = heldAsFrames
        let (fast, fastID) = fixture.join("c")
        fixture.subscribe(slowID, 1, "tick")
        fixture.subscribe(fastID, 1, "tick")
        let (_, publisherID) = fixture.join("b")
        slow.isWritable = false
        for index in 0..<10 { fixture.publish(publisherID, "tick", "\(index)") }
        #expect(slow.delivers.isEmpty)
        #expect(fast.delivers.count == 10)
        slow.isWritable = true
        fixture.broker.peerBecameWritable(slowID)
        // Queue limit is 4 in the fixture: 6 oldest dropped.
        #expect(slow.delivers.map { String(decoding: $0.payload, as: UTF8.self) } == ["6", "7", "8", "9"])
        #expect(slow.delivers.allSatisfy { $0.subscriptionID == 1 && $0.deliveryAttempt == 1 && $0.publisher == "b" })
        #expect(fixture.broker.stats.dropped == 6)
        #expect(fixture.broker.stats.delivered == 14)
        #expect(fixture.broker.sessionSnapshots().allSatisfy { $0.queuedDeliveries == 0 })
    }

    @Test("held frames go out in slices, and stop while the peer is unwritable again")
    func heldFramesInSlices() {
        let fixture = BrokerFixture(log: nil)
        let (slow, slowID) = fixture.join("a")
        slow.takesFrames = true
        fixture.subscribe(slowID, 3, "bulk")
        let (_, publisherID) = fixture.join("b")
        slow.isWritable = false
        // Four of 100 KB: more than one 256 KB slice.
        let payloads = (0..<4).map { String(repeating: Character(String($0)), count: 100_000) }
        for payload in payloads { fixture.publish(publisherID, "bulk", payload) }
        slow.isWritable = true
        slow.writableForFrameWrites = 1
        fixture.broker.peerBecameWritable(slowID)
        #expect(slow.frameWrites == 1)
        #expect(slow.delivers.count == 2)
        #expect(fixture.broker.sessionSnapshots().first { $0.instance == "a" }?.queuedDeliveries == 2)
        slow.isWritable = true
        slow.writableForFrameWrites = .max
        fixture.broker.peerBecameWritable(slowID)
        #expect(slow.delivers.map { String(decoding: $0.payload, as: UTF8.self) } == payloads)
        // Published again after the drain: straight through, nothing held.
        fixture.publish(publisherID, "bulk", "after")
        #expect(slow.delivers.last.map { String(decoding: $0.payload, as: UTF8.self) } == "after")
    }

    @Test("a peer that stops answering pings is dropped after three intervals")
    func deadPeer() {
        let fixture = BrokerFixture(log: nil)
        let (peer, id) = fixture.join("a")
        fixture.clock.advance(1_000)
        fixture.broker.tick()
        #expect(peer.frames.contains { if case .ping = $0.kind { true } else { false } })
        fixture.clock.advance(1_999)
        fixture.broker.tick()
        #expect(!peer.closed)
        fixture.clock.advance(1)
        fixture.broker.tick()
        #expect(peer.closed)
        #expect(fixture.broker.sessionSnapshots().isEmpty)
        _ = id
    }

    @Test("a peer that answers pings stays")
    func livePeer() {
        let fixture = BrokerFixture(log: nil)
        let (peer, id) = fixture.join("a")
        for _ in 0..<10 {
            fixture.clock.advance(1_000)
            fixture.broker.tick()
            var pong = Frame()
            pong.pong.nonce = 1
            fixture.broker.receive(pong, from: id)
        }
        #expect(!peer.closed)
    }

    @Test("the bus serves its own Stats method as JSON")
    func statsMethod() throws {
        let fixture = BrokerFixture(log: nil)
        let (caller, callerID) = fixture.join("a", serves: ["/t.v1.T/Echo"])
        fixture.request(callerID, 1, "/xunfang.bus.v1.Bus/Stats")
        guard case .response(let answer) = caller.frames.first?.kind else {
            Issue.record("no answer")
            return
        }
        #expect(answer.code == 0)
        let json = try JSONSerialization.jsonObject(with: answer.payload) as? [String: Any]
        let services = json?["services"] as? [String: [String]]
        #expect(services?["/t.v1.T/Echo"] == ["a"])
    }
}

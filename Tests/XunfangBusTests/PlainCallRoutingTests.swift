import Foundation
import NIOCore
import SwiftProtobuf
import Testing
import XunfangBus
import XunfangProto
import XunfangWire

@Suite("Plain calls through the broker")
struct PlainCallRoutingTests {
    static let method = "/x.Echo/Say"

    func request(_ callID: UInt64, _ method: String = method, _ text: String = "", timeout: UInt64 = 0) throws -> PlainRequest {
        var frame = Frame()
        frame.request.callID = callID
        frame.request.method = method
        frame.request.payload = Data(text.utf8)
        frame.request.timeoutMs = timeout
        var recent = PlainRequest.Recent()
        return try #require(PlainRequest(frame: try frame.serializedBytes() as ByteBuffer, recent: &recent))
    }

    func response(_ callID: UInt64, code: UInt32 = 0, message: String = "", _ text: String = "") throws -> PlainResponse {
        var frame = Frame()
        frame.response.callID = callID
        frame.response.code = code
        frame.response.message = message
        frame.response.payload = Data(text.utf8)
        return try #require(PlainResponse(frame: try frame.serializedBytes() as ByteBuffer))
    }

    func requests(_ peer: FakePeer) -> [Xunfang_Bus_V1_Request] {
        peer.take().compactMap { if case .request(let request) = $0.kind { request } else { nil } }
    }

    func responses(_ peer: FakePeer) -> [Xunfang_Bus_V1_Response] {
        peer.take().compactMap { if case .response(let response) = $0.kind { response } else { nil } }
    }

    @Test("a call and its answer pass through as the general path passes them")
    func sameAsGeneral() throws {
        let fixture = BrokerFixture(log: nil)
        let (server, serverID) = fixture.join("a", serves: [Self.method])
        let (caller, callerID) = fixture.join("b")
        server.takesFrames = true
        caller.takesFrames = true
        fixture.request(callerID, 5, Self.method, timeout: 2_000)
        #expect(fixture.fastCall(try request(6, Self.method, "ping", timeout: 2_000), from: callerID))
        // A timeout above the bus's maximum is cut to it on both paths.
        #expect(fixture.fastCall(try request(7, Self.method, "long", timeout: 999_999), from: callerID))
        let forwarded = requests(server)
        #expect(forwarded.count == 3)
        guard forwarded.count == 3 else { return }
        #expect(forwarded.allSatisfy { $0.caller == "b" && $0.method == Self.method && $0.callID != 0 })
        #expect(Set(forwarded.map(\.callID)).count == 3)
        #expect(forwarded.map(\.timeoutMs) == [2_000, 2_000, 30_000])
        #expect(String(decoding: forwarded[1].payload, as: UTF8.self) == "ping")

        #expect(fixture.fastAnswer(try response(forwarded[1].callID, "pong"), from: serverID))
        #expect(fixture.fastAnswer(try response(forwarded[2].callID, code: 5, message: "nope"), from: serverID))
        var general = Frame()
        general.response.callID = forwarded[0].callID
        general.response.payload = Data("slow".utf8)
        fixture.broker.receive(general, from: serverID)
        let answers = responses(caller)
        #expect(answers.map(\.callID) == [6, 7, 5])
        #expect(answers.map { String(decoding: $0.payload, as: UTF8.self) } == ["pong", "", "slow"])
        #expect(answers.map(\.code) == [0, 5, 0])
        #expect(answers[1].message == "nope")
        #expect(fixture.broker.stats.requests == 3)
        #expect(fixture.broker.stats.latencyBuckets.reduce(0, +) == 3)
        #expect(fixture.broker.stats.lateResponses == 0)
    }

    @Test("calls the general path must answer are declined, and change nothing")
    func declines() throws {
        let fixture = BrokerFixture(log: nil)
        let (server, _) = fixture.join("a", serves: [Self.method])
        let (bytesLess, _) = fixture.join("c", serves: ["/x.Objects/Call"])
        let (caller, callerID) = fixture.join("b")
        let (limited, limitedID) = fixture.join("limited")
        server.takesFrames = true
        caller.takesFrames = true
        let before = fixture.broker.stats
        for method in ["no-slashes", "/x.Nobody/Serves", "/xunfang.bus.v1.Bus/Stats", "/x.Objects/Call"] {
            #expect(!fixture.fastCall(try request(1, method), from: callerID), "\(method)")
        }
        #expect(!fixture.fastCall(try request(1, Self.method), from: limitedID))
        #expect(fixture.broker.stats == before)
        for peer in [server, bytesLess, caller, limited] { #expect(peer.take().isEmpty) }
    }

    @Test("a response after the deadline is left to the general path, which counts it late")
    func late() throws {
        let fixture = BrokerFixture(log: nil)
        let (server, serverID) = fixture.join("a", serves: [Self.method])
        let (caller, callerID) = fixture.join("b")
        server.takesFrames = true
        caller.takesFrames = true
        #expect(fixture.fastCall(try request(9, timeout: 100), from: callerID))
        let forwarded = try #require(requests(server).first)
        fixture.clock.advance(150)
        fixture.broker.tick()
        #expect(responses(caller).map(\.code) == [StatusCode.deadlineExceeded.rawValue])
        #expect(!fixture.fastAnswer(try response(forwarded.callID, "too late"), from: serverID))
        var frame = Frame()
        frame.response.callID = forwarded.callID
        fixture.broker.receive(frame, from: serverID)
        #expect(fixture.broker.stats.lateResponses == 1)
        #expect(caller.take().isEmpty)
    }
}

extension BrokerFixture {
    func fastCall(_ request: PlainRequest, from id: SessionID) -> Bool {
        broker.receivePlainRequest(request, from: id, at: ArrivalTime(clock))
    }

    func fastAnswer(_ response: PlainResponse, from id: SessionID) -> Bool {
        broker.receivePlainResponse(response, from: id, at: ArrivalTime(clock))
    }
}

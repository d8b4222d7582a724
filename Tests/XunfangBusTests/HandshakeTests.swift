import Testing
import XunfangBus
import XunfangProto
import XunfangWire

@Suite("Handshake")
struct HandshakeTests {
    func outcome(_ hello: Frame, fixture: BrokerFixture = BrokerFixture()) -> (Xunfang_Bus_V1_Reject?, FakePeer) {
        let peer = FakePeer()
        let id = fixture.broker.connect(peer)
        fixture.broker.receive(hello, from: id)
        if case .reject(let reject) = peer.frames.first?.kind { return (reject, peer) }
        return (nil, peer)
    }

    @Test("a known plugin with its credential is welcomed with the negotiated limits")
    func welcome() {
        let peer = FakePeer()
        let fixture = BrokerFixture()
        let id = fixture.broker.connect(peer)
        fixture.broker.receive(BrokerFixture.hello("a"), from: id)
        guard case .welcome(let welcome) = peer.frames.first?.kind else {
            Issue.record("expected Welcome, got \(peer.frames)")
            return
        }
        #expect(welcome.protocol == 1)
        #expect(welcome.maxFrameBytes == UInt32(WireLimits.defaultMaxFrameBytes))
        #expect(welcome.pingIntervalMs == 1_000)
        #expect(!peer.closed)
    }

    @Test("a wrong credential is refused with UNAUTHENTICATED and the connection closed")
    func wrongCredential() {
        let (reject, peer) = outcome(BrokerFixture.hello("a", credential: "not-the-secret-at-all"))
        #expect(reject?.code == StatusCode.unauthenticated.rawValue)
        #expect(reject?.reason.contains("credential") == true)
        #expect(peer.closed)
    }

    @Test("an unknown plugin gets the same answer as a wrong credential")
    func unknownPlugin() {
        let (reject, _) = outcome(BrokerFixture.hello("nobody"))
        #expect(reject?.code == StatusCode.unauthenticated.rawValue)
    }

    @Test("an unsupported protocol range is refused with the range the bus speaks", arguments: [(2, 3), (0, 0), (3, 1)])
    func unsupportedVersion(range: (UInt32, UInt32)) {
        let (reject, peer) = outcome(BrokerFixture.hello("a", min: range.0, max: range.1))
        #expect(reject?.code == StatusCode.failedPrecondition.rawValue)
        #expect(reject?.minProtocol == 1 && reject?.maxProtocol == 1)
        #expect(reject?.reason.contains("protocol") == true)
        #expect(peer.closed)
    }

    @Test("a second live session with the same instance name is refused with ALREADY_EXISTS")
    func duplicateInstance() {
        let fixture = BrokerFixture()
        _ = fixture.join("a", instance: "a-1")
        let (reject, _) = outcome(BrokerFixture.hello("a", instance: "a-1"), fixture: fixture)
        #expect(reject?.code == StatusCode.alreadyExists.rawValue)
        // A different instance of the same plugin is fine (scale out).
        let (none, _) = outcome(BrokerFixture.hello("a", instance: "a-2"), fixture: fixture)
        #expect(none == nil)
    }

    @Test("the instance name is free again once its session ends")
    func instanceReusableAfterDisconnect() {
        let fixture = BrokerFixture()
        let (_, id) = fixture.join("a")
        fixture.broker.disconnect(id)
        let (reject, _) = outcome(BrokerFixture.hello("a"), fixture: fixture)
        #expect(reject == nil)
    }

    @Test("any frame before Hello is refused with UNAUTHENTICATED")
    func frameBeforeHello() {
        var publish = Frame()
        publish.publish.topic = "unit.position"
        let (reject, peer) = outcome(publish)
        #expect(reject?.code == StatusCode.unauthenticated.rawValue)
        #expect(peer.closed)
    }

    @Test("a disabled plugin is refused with PERMISSION_DENIED")
    func disabled() {
        let (reject, _) = outcome(BrokerFixture.hello("off"))
        #expect(reject?.code == StatusCode.permissionDenied.rawValue)
    }

    @Test("declaring a service outside the ACL is refused at handshake")
    func declaredServiceOutsideACL() {
        let (reject, _) = outcome(BrokerFixture.hello("limited", serves: ["/x.v1.X/Y"]))
        #expect(reject?.code == StatusCode.permissionDenied.rawValue)
        #expect(reject?.reason.contains("/x.v1.X/Y") == true)
    }

    @Test("a version that is not semver is refused")
    func badVersion() {
        var hello = BrokerFixture.hello("a")
        hello.hello.version = "latest"
        let (reject, _) = outcome(hello)
        #expect(reject?.code == StatusCode.invalidArgument.rawValue)
    }

    @Test("a connection that never says Hello is closed after the handshake window (10 s, or the ping interval if longer)")
    func silentConnection() {
        let fixture = BrokerFixture()
        let peer = FakePeer()
        _ = fixture.broker.connect(peer)
        fixture.clock.advance(9_999)
        fixture.broker.tick()
        #expect(!peer.closed)
        fixture.clock.advance(1)
        fixture.broker.tick()
        #expect(peer.closed)
    }

    @Test("a stopping bus says Goodbye with its reason to every session, then closes it")
    func shutdownSaysGoodbye() {
        let fixture = BrokerFixture()
        let peers = (0..<2).map { fixture.join("a", instance: "a-\($0)").0 }
        let unready = FakePeer()
        _ = fixture.broker.connect(unready)
        fixture.broker.shutdown(reason: "the bus is stopping")
        for peer in peers + [unready] {
            guard case .goodbye(let goodbye) = peer.frames.last?.kind else {
                Issue.record("expected Goodbye, got \(peer.frames)")
                continue
            }
            #expect(goodbye.reason == "the bus is stopping")
            #expect(peer.closed)
        }
        #expect(fixture.broker.sessionSnapshots().isEmpty)
    }
}

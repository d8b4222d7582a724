import Foundation
import Testing
@testable import XunfangPluginKit
#if canImport(Glibc)
import Glibc
#endif

@Suite("Socket link descriptors")
struct SocketLinkDescriptorTests {
    func closesOnExec(_ descriptor: CInt) -> Bool {
        fcntl(descriptor, F_GETFD) & FD_CLOEXEC != 0
    }

    @Test("the socket the SDK connects and the duplicate it writes through are close-on-exec, so spawned plugins do not inherit them")
    func closeOnExec() async throws {
        let harness = try await Harness.start(.socket)
        guard case .socket(.unixSocket(let path)) = harness.transport else {
            Issue.record("the harness is not on a Unix socket")
            return
        }
        let descriptor = try connectedUnixSocket(path)
        let duplicate = duplicateForWriting(descriptor)
        #expect(descriptor >= 0 && duplicate >= 0 && duplicate != descriptor)
        #expect(closesOnExec(descriptor))
        #expect(closesOnExec(duplicate))
        close(duplicate)
        close(descriptor)
        await harness.server.stop()
    }

    @Test("a path that is no bus is reported as unavailable, naming it")
    func noBus() {
        #expect(throws: BusClientError.self) { try connectedUnixSocket("/nonexistent/bus.sock") }
    }
}

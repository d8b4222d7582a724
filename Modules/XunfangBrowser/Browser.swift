public import Foundation
public import HummingbirdWSClient
import Logging
import NIOCore

/// Headless Chromium from Debian, driven over the DevTools protocol (one WebSocket to the
/// browser, a session on its page): the console's tests and benchmark look at the page a
/// duty officer sees.
public final class Browser: Sendable {
    let process: Process
    let endpoint: String
    let profile: String

    /// Starts Chromium with an empty profile; its DevTools address from what it prints.
    public static func launch() async throws -> Browser {
        let profile = NSTemporaryDirectory() + "xf-chromium-\(UUID().uuidString.prefix(8))"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
        process.arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0", "--remote-allow-origins=*",
                             "--user-data-dir=\(profile)", "--window-size=1280,800", "about:blank"]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Chromium writes its DevTools port and path into the profile once it listens.
        for _ in 0..<600 {
            if let text = try? String(contentsOfFile: "\(profile)/DevToolsActivePort", encoding: .utf8) {
                let lines = text.split(separator: "\n")
                if lines.count >= 2 { return Browser(process: process, endpoint: "ws://127.0.0.1:\(lines[0])\(lines[1])", profile: profile) }
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        process.terminate()
        throw BrowserError("Chromium did not say where its DevTools listen (is the chromium package installed?)")
    }

    init(process: Process, endpoint: String, profile: String) {
        self.process = process
        self.endpoint = endpoint
        self.profile = profile
    }

    public func close() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: profile)
    }

    /// Runs `body` with the browser's page.
    public func withPage(_ body: @escaping @Sendable (inout Page) async throws -> Void) async throws {
        let logger = Logger(label: "browser", factory: { _ in SwiftLogNoOpLogHandler() })
        _ = try await WebSocketClient.connect(url: endpoint, configuration: .init(maxFrameSize: 1 << 26), logger: logger) { inbound, outbound, _ in
            var page = Page(messages: inbound.messages(maxSize: 1 << 26).makeAsyncIterator(), outbound: outbound)
            let targets = try await page.call("Target.getTargets")
            let infos = targets["targetInfos"] as? [[String: Any]] ?? []
            guard let target = infos.first(where: { $0["type"] as? String == "page" })?["targetId"] as? String else { throw BrowserError("no page in \(infos)") }
            page.session = try await page.call("Target.attachToTarget", ["targetId": target, "flatten": true])["sessionId"] as? String
            _ = try await page.call("Page.enable")
            try await body(&page)
        }
    }
}

public struct BrowserError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A DevTools session on one page: commands answered in turn (events are passed over).
public struct Page {
    var messages: WebSocketInboundMessageStream.AsyncIterator
    let outbound: WebSocketOutboundWriter
    var session: String?
    var id = 0

    public mutating func call(_ method: String, _ params: [String: Any] = [:]) async throws -> [String: Any] {
        id += 1
        var command: [String: Any] = ["id": id, "method": method, "params": params]
        if let session { command["sessionId"] = session }
        try await outbound.write(.text(String(decoding: try JSONSerialization.data(withJSONObject: command), as: UTF8.self)))
        while let message = try await messages.next() {
            guard case .text(let text) = message, let answer = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                  answer["id"] as? Int == id else { continue }
            if let error = answer["error"] { throw BrowserError("\(method): \(error)") }
            return answer["result"] as? [String: Any] ?? [:]
        }
        throw BrowserError("the browser closed the connection")
    }

    /// A script's value (promises awaited).
    public mutating func evaluate(_ script: String) async throws -> Any? {
        let result = try await call("Runtime.evaluate", ["expression": script, "awaitPromise": true, "returnByValue": true])
        if let thrown = result["exceptionDetails"] { throw BrowserError("the script threw: \(thrown)") }
        return (result["result"] as? [String: Any])?["value"]
    }

    public mutating func navigate(_ url: String) async throws {
        _ = try await call("Page.navigate", ["url": url])
    }

    /// Waits (polling, no fixed deadline beyond `seconds`) until `condition` is true.
    public mutating func wait(for condition: String, seconds: Double = 60) async throws -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            // A page still loading has no body yet: that is "not yet", not a failure.
            if try await evaluate("(() => { try { return Boolean(\(condition)) } catch (error) { return false } })()") as? Bool == true { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Clicks the first element `selector` matches as soon as there is one (a board may be
    /// between renders when a test reaches for its button); false when none came within `seconds`.
    public mutating func click(_ selector: String, seconds: Double = 60) async throws -> Bool {
        let quoted = String(decoding: try JSONSerialization.data(withJSONObject: [selector]), as: UTF8.self).dropFirst().dropLast()
        return try await wait(for: "(() => { const element = document.querySelector(\(quoted)); if (!element) return false; element.click(); return true })()",
                              seconds: seconds)
    }

    public mutating func screenshot() async throws -> Data {
        Data(base64Encoded: try await call("Page.captureScreenshot", ["format": "png"])["data"] as? String ?? "") ?? Data()
    }
}

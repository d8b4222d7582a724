import ConsolePlugin
import DispatchContract
import Foundation
import Logging
import Synchronization
import XunfangBrowser
import XunfangGeo
import XunfangPluginKit

/// `xunfang bench console` (run by this plugin's executable): the real stack (`xunfang up`:
/// bus, GridModel, Dispatch and the console as processes) on the demo county drawn at OSM
/// node density (a node every 20 m along each road: about 60,000 road pieces), in headless
/// Chromium. It times the county's first paint beside the floor of any page from the same
/// server (the sign-in page), and, with 1,852 units each reporting every second, how long a
/// `unit.position` takes from its publisher to its marker on screen beside how long the bus
/// takes to deliver it to a plain subscriber. Not a test.
enum ConsoleBenchmark {
    struct Options {
        var units = 1_852
        var seconds = 20
        var loads = 5
        var shapeEvery = 20.0
        var json = false
    }

    static let secret = "bench-console-secret-0123456789ab"

    static func run(_ arguments: [String]) async -> Int32 {
        var options = Options()
        var index = 0
        while index < arguments.count {
            let name = arguments[index], value = index + 1 < arguments.count ? arguments[index + 1] : ""
            switch name {
            case "--units": guard let count = Int(value), (1...20_000).contains(count) else { return fail("--units 1 to 20000") }; options.units = count; index += 1
            case "--seconds": guard let count = Int(value), (2...600).contains(count) else { return fail("--seconds 2 to 600") }; options.seconds = count; index += 1
            case "--loads": guard let count = Int(value), (1...50).contains(count) else { return fail("--loads 1 to 50") }; options.loads = count; index += 1
            case "--shape-every": guard let metres = Double(value), metres >= 5 else { return fail("--shape-every 5 metres or more") }; options.shapeEvery = metres; index += 1
            case "--json": options.json = true
            default: return fail("unknown option \(name) (--units N --seconds N --loads N --shape-every M --json)")
            }
            index += 1
        }
        do {
            try await measure(options)
            return 0
        } catch {
            return fail("\(error)")
        }
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang bench console: \(message)\n".utf8))
        return 2
    }

    static func measure(_ options: Options) async throws {
        let directory = NSTemporaryDirectory() + "xunfang-bench-console-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let roads = try SyntheticRoads.county(.demoCounty).withShapeNodes(every: options.shapeEvery)
        try GraphFile.write(roads, to: "\(directory)/roads.graph")
        let port = Int.random(in: 20_000...40_000)
        try county(roads: "\(directory)/roads.graph", port: port).write(toFile: "\(directory)/county.yaml", atomically: true, encoding: .utf8)

        let up = try ToolConnection.startStack(in: directory)
        defer {
            up.terminate()
            up.waitUntilExit()
        }
        let quiet = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let client = BusClient(transport: .socket(.unixSocket("\(directory)/data/bus.sock")), manifest: PluginManifest(name: "bench", version: "0.1.0"),
                               credential: secret, logger: quiet)
        try await PluginMain.connectWithRetry(client, logger: quiet)
        defer { Task { await client.close() } }
        let password = try await demoPassword("\(directory)/data/console/officers-demo.txt")

        let browser = try await Browser.launch()
        defer { browser.close() }
        let url = "http://127.0.0.1:\(port)/"
        let results = Mutex<[(String, String, Double)]>([])
        let units = options.units, seconds = options.seconds, loads = options.loads
        try await browser.withPage { page in
            try await signIn(&page, url: url, password: password)
            let paint = try await firstPaints(&page, url: url, loads: loads)
            let live = try await positionDelays(&page, client: client, units: units, seconds: seconds)
            results.withLock { $0 = paint + live }
        }
        BenchReport.print(bench: "console", title: "xunfang bench console (demo county, a node every \(Int(options.shapeEvery)) m: \(roads.arcCount) arcs; \(options.units) units every second; headless Chromium; processes via xunfang up)",
                          parameters: ["units": Double(options.units), "seconds": Double(options.seconds), "arcs": Double(roads.arcCount)],
                          results: results.withLock { $0 }, jsonOnly: options.json)
    }

    /// The demo duty officer's password, once the console has written it.
    static func demoPassword(_ path: String) async throws -> String {
        for _ in 0..<1_200 {
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               let line = text.split(separator: "\n").first(where: { $0.hasPrefix("duty ") }) {
                return String(line.split(separator: " ")[1])
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BrowserError("the console did not write its demo officers to \(path) within 120 s")
    }

    static func signIn(_ page: inout Page, url: String, password: String) async throws {
        for _ in 0..<120 {
            try await page.navigate(url)
            if try await page.wait(for: "document.getElementById('signin')", seconds: 2) { break }
        }
        _ = try await page.evaluate("document.getElementById('name').value = 'duty'; document.getElementById('password').value = '\(password)'; document.getElementById('submit').click(); 1")
        guard try await page.wait(for: "document.body.dataset.ready === 'true'", seconds: 120) else {
            let shown = try await page.evaluate("location.href + ': ' + document.body.innerText.slice(0, 300)") as? String ?? ""
            throw BrowserError("the console did not load after signing in (\(shown))")
        }
    }

    /// Each load from a fresh navigation: when the county was on screen, when the boards
    /// were filled, how long the roads took to arrive; beside the sign-in page's paint.
    static func firstPaints(_ page: inout Page, url: String, loads: Int) async throws -> [(String, String, Double)] {
        var painted: [Double] = [], ready: [Double] = [], roadsFetch: [Double] = [], floor: [Double] = []
        var pieces = 0.0
        let cookies = try await page.call("Network.getCookies", ["urls": [url]])["cookies"] as? [[String: Any]] ?? []
        guard let session = cookies.first(where: { $0["name"] as? String == "xf_session" }), let token = session["value"] as? String else {
            throw BrowserError("no session cookie after signing in: \(cookies)")
        }
        for _ in 0..<loads {
            try await page.navigate(url)
            guard try await page.wait(for: "document.body.dataset.painted && document.body.dataset.ready === 'true'", seconds: 60) else {
                throw BrowserError("the county was not drawn within 60 s")
            }
            painted.append(Double(try await page.evaluate("document.body.dataset.painted") as? String ?? "") ?? .nan)
            ready.append(Double(try await page.evaluate("document.body.dataset.readyAt") as? String ?? "") ?? .nan)
            roadsFetch.append(try await page.evaluate("(e => e.responseEnd - e.startTime)(performance.getEntriesByName(location.origin + '/api/roads')[0])") as? Double ?? .nan)
            pieces = Double(try await page.evaluate("document.body.dataset.roads") as? String ?? "") ?? 0
            // The floor: a page from the same server with nothing to fetch, the sign-in
            // page (the session cookie set aside for it, then put back).
            _ = try await page.call("Network.deleteCookies", ["name": "xf_session", "url": url])
            try await page.navigate(url)
            guard try await page.wait(for: "document.getElementById('signin') && document.readyState === 'complete'", seconds: 30) else { throw BrowserError("no sign-in page") }
            guard try await page.wait(for: "performance.getEntriesByName('first-contentful-paint').length", seconds: 30) else { throw BrowserError("the sign-in page was not painted") }
            floor.append(try await page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime") as? Double ?? .nan)
            _ = try await page.call("Network.setCookie", ["name": "xf_session", "value": token, "url": url, "httpOnly": true, "sameSite": "Strict"])
        }
        try await page.navigate(url)
        guard try await page.wait(for: "document.body.dataset.ready === 'true'", seconds: 60) else { throw BrowserError("the console did not load again") }
        return [("county first paint p50", "ms", BenchReport.percentile(painted, 0.5)), ("county first paint max", "ms", painted.max() ?? .nan),
                ("boards filled p50", "ms", BenchReport.percentile(ready, 0.5)), ("roads answer p50", "ms", BenchReport.percentile(roadsFetch, 0.5)),
                ("floor: a page with nothing to fetch p50", "ms", BenchReport.percentile(floor, 0.5)), ("road pieces drawn", "count", pieces)]
    }

    /// Every unit reports once a second (spread over the second, each `at` its send time);
    /// the page records when each position reached the screen, a plain subscriber when the
    /// bus handed it over. The first 3 s are not counted.
    static func positionDelays(_ page: inout Page, client: BusClient, units: Int, seconds: Int) async throws -> [(String, String, Double)] {
        let delivered = Mutex<[Double]>([])
        let counting = Atomic<Bool>(false)
        let subscription = try await client.subscribe("unit.position", bufferLimit: 65_536)
        let listener = Task {
            for await delivery in subscription {
                guard counting.load(ordering: .relaxed), let position = try? delivery.decode(Xunfang_Dispatch_V1_UnitPosition.self) else { continue }
                let delay = Double(now() - position.at)
                delivered.withLock { $0.append(delay) }
            }
        }
        defer { listener.cancel() }
        let publisher = Task { try await publish(client, units: units) }
        defer { publisher.cancel() }
        try await Task.sleep(for: .seconds(3))
        _ = try await page.evaluate("positionDelays.length = 0; 1")
        counting.store(true, ordering: .relaxed)
        // The page keeps its last 20,000 delays: taken every 5 s, none is lost.
        var onScreen: [Double] = []
        for elapsed in stride(from: 0, to: seconds, by: 5) {
            try await Task.sleep(for: .seconds(min(5, seconds - elapsed)))
            onScreen += (try await page.evaluate("positionDelays.splice(0)") as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.doubleValue }
        }
        counting.store(false, ordering: .relaxed)
        publisher.cancel()
        let bus = delivered.withLock { $0 }
        let expected = Double(units * seconds)
        return [("marker moved p50", "ms", BenchReport.percentile(onScreen, 0.5)), ("marker moved p95", "ms", BenchReport.percentile(onScreen, 0.95)),
                ("marker moved p99", "ms", BenchReport.percentile(onScreen, 0.99)), ("positions on screen", "share", Double(onScreen.count) / expected),
                ("bus delivery p50", "ms", BenchReport.percentile(bus, 0.5)), ("bus delivery p95", "ms", BenchReport.percentile(bus, 0.95)),
                ("bus delivery p99", "ms", BenchReport.percentile(bus, 0.99)), ("positions delivered", "share", Double(bus.count) / expected)]
    }

    /// Units wander around the demo county's centre, each sending once a second, in 20
    /// batches a second so the load is even.
    static func publish(_ client: BusClient, units: Int) async throws {
        let parameters = SyntheticRoads.Parameters.demoCounty
        let projection = LocalProjection(origin: parameters.origin)
        var random = SyntheticRoads.Generator(state: 18)
        let half = parameters.sideMetres / 2 - 500
        var points = (0..<units).map { _ in PlanarPoint(x: Double.random(in: -half...half, using: &random), y: Double.random(in: -half...half, using: &random)) }
        let batches = 20
        var tick = ContinuousClock.now
        while !Task.isCancelled {
            for batch in 0..<batches {
                for index in stride(from: batch, to: units, by: batches) {
                    points[index].x = min(half, max(-half, points[index].x + Double.random(in: -15...15, using: &random)))
                    points[index].y = min(half, max(-half, points[index].y + Double.random(in: -15...15, using: &random)))
                    let point = projection.unproject(points[index])
                    var update = Xunfang_Dispatch_V1_UnitPosition()
                    update.callSign = "T\(String(format: "%04d", index + 1))"
                    update.position.longitude = point.longitude
                    update.position.latitude = point.latitude
                    update.at = now()
                    try await client.publish("unit.position", update)
                }
                tick = tick.advanced(by: .milliseconds(1_000 / batches))
                try await Task.sleep(until: tick)
            }
        }
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000) }

    /// A YAML flow sequence of quoted strings: the console's ACL is exactly what its manifest declares.
    static func flow(_ items: [String]) -> String { "[" + items.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }

    static func county(roads: String, port: Int) -> String {
        """
        county: Bench County
        data_dir: data
        bus:
          socket: bus.sock
          durable_topics: ["incident.>", "dispatch.order.>"]
        plugins:
          - name: grid-model
            env: { GRID_MODEL_ROADS: "\(roads)", GRID_MODEL_HIERARCHIES: "none" }
            acl: { publish: ["grid.>"], serve: ["/xunfang.grid_model.v1.GridModel/*"] }
          - name: dispatch
            acl:
              publish: ["incident.>", "dispatch.>", "unit.status"]
              subscribe: ["unit.position"]
              serve: ["/xunfang.dispatch.v1.Dispatch/*"]
              call: ["/xunfang.grid_model.v1.GridModel/*"]
          - name: console
            env: { CONSOLE_DEMO_OFFICERS: "on", CONSOLE_ADDRESS: "127.0.0.1:\(port)" }
            acl:
              subscribe: \(flow(ConsolePlugin.manifest.subscribes))
              call: \(flow(ConsolePlugin.manifest.calls))
        clients:
          - name: bench
            credential: \(secret)
            acl: { publish: [">"], subscribe: [">"], call: ["*"] }
        """
    }
}

import Crypto
import Foundation
import Glibc
import Synchronization
import XunfangGeo
import XunfangPluginKit
import CommunityPolicingContract
import SituationAnalysisContract

/// `xunfang bench community` (run by this plugin's executable): targeted alerts at a large
/// county's scale. Matching: 100,000 members on a road lattice against warnings of 500 hot
/// segment × hour pairs, the indexed matcher and policy beside the plain scan of every
/// member (the baseline), which must agree. Fan-out: one warning that concerns 10,000
/// members, issued into a real SQLite store (alerts, CAP documents, bus messages) and
/// delivered through the outbox directory. Not a test.
enum CommunityBenchmark {
    struct Options {
        var members = 100_000
        var warnings = 200
        var segments = 50
        var hours = 10
        var fanOut = 10_000
        var records = 100_000
        var json = false
    }

    static func run(_ arguments: [String]) -> Int32 {
        var options = Options()
        var index = 0
        func fail(_ message: String) -> Int32 {
            FileHandle.standardError.write(Data("xunfang bench community: \(message)\n".utf8))
            return 2
        }
        while index < arguments.count {
            let name = arguments[index], value = index + 1 < arguments.count ? Int(arguments[index + 1]) ?? -1 : -1
            index += 2
            switch name {
            case "--members": options.members = value
            case "--warnings": options.warnings = value
            case "--segments": options.segments = value
            case "--hours": options.hours = value
            case "--fan-out": options.fanOut = value
            case "--records": options.records = value
            case "--json": options.json = true; index -= 1
            default: return fail("unknown option \(name) (--members N --warnings N --segments N --hours N --fan-out N --records N --json)")
            }
        }
        guard options.members >= 1, options.warnings >= 1, (1...500).contains(options.segments), (1...24).contains(options.hours), options.fanOut >= 1, options.records >= 1 else {
            return fail("--members ≥ 1, --warnings ≥ 1, --segments 1 to 500, --hours 1 to 24, --fan-out ≥ 1, --records ≥ 1")
        }
        let directory = NSTemporaryDirectory() + "xunfang-bench-community-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var results = try matching(options)
            results += try fanOut(options.fanOut, in: directory)
            results += try records(options.records, in: directory)
            BenchReport.print(bench: "community",
                              title: "xunfang bench community (\(options.members) members, \(options.warnings) warnings of \(options.segments) segments × \(options.hours) hours, "
                                  + "fan-out \(options.fanOut) in \(NSTemporaryDirectory()) on \(fileSystem(of: directory)); TMPDIR=DIR to measure another disk)",
                              parameters: ["members": Double(options.members), "warnings": Double(options.warnings),
                                           "pairs": Double(options.segments * options.hours), "fan_out": Double(options.fanOut)],
                              results: results, jsonOnly: options.json)
            return 0
        } catch {
            return fail("\(error)")
        }
    }

    /// A 300 × 300 lattice of road nodes; each member works 1 to 4 segments around a home
    /// node and 1 to 3 daily slots.
    static let side = 300

    static func members(_ count: Int, random: inout some RandomNumberGenerator) -> [Xunfang_Community_V1_Member] {
        (0..<count).map { number in
            var member = Xunfang_Community_V1_Member()
            member.id = String(format: "M-%06d", number)
            var node = Int.random(in: 0..<(side * side - side - 1), using: &random)
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let next = node + (Bool.random(using: &random) ? 1 : side)
                member.roadSegments.append("\(node)-\(next)")
                node = next < side * side - side - 1 ? next : node
            }
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                var slot = Xunfang_Community_V1_WeeklySlot()
                slot.day = UInt32.random(in: 1...7, using: &random)
                slot.startMinute = UInt32.random(in: 0...20, using: &random) * 60
                slot.endMinute = slot.startMinute + UInt32.random(in: 2...4, using: &random) * 60
                member.hours.append(slot)
            }
            return member
        }
    }

    static func matching(_ options: Options) throws -> [(String, String, Double)] {
        var random = SystemRandomNumberGenerator()
        let members = members(options.members, random: &random)
        var matcher: AlertMatcher?
        let build = BenchReport.milliseconds { matcher = AlertMatcher(members: members) }
        let policy = AlertPolicy()
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        var times: [Double] = [], scans: [Double] = [], matched = 0, mismatches = 0
        for round in 0..<options.warnings {
            let segments = (0..<options.segments).map { _ -> String in
                let node = Int.random(in: 0..<(side * side - side - 1), using: &random)
                return "\(node)-\(node + (Bool.random(using: &random) ? 1 : side))"
            }
            let hours = Array((0..<24).shuffled(using: &random).prefix(options.hours)).map(UInt32.init)
            let windows = HotWindow.coming(segments: segments, hours: hours, now: now)
            var found = AlertMatcher.Matches()
            times.append(BenchReport.milliseconds {
                found = matcher!.match(windows)
                for (index, chosen) in found.windows {
                    _ = policy.decide(member: members[index], status: nil, recent: [], windows: windows, matched: chosen, warningTypes: [], now: now)
                }
            })
            matched += found.windows.count
            if round < 3 {
                var reference: [Int: [Int]] = [:]
                scans.append(BenchReport.milliseconds { reference = AlertMatcher.scan(members, windows) })
                if reference != found.windows { mismatches += 1 }
            }
        }
        return [("index build", "ms", build),
                ("match + policy p50", "ms", BenchReport.percentile(times, 0.5)),
                ("match + policy p99", "ms", BenchReport.percentile(times, 0.99)),
                ("baseline scan (3 warnings) p50", "ms", BenchReport.percentile(scans, 0.5)),
                ("members alerted per warning", "members", Double(matched) / Double(options.warnings)),
                ("scan mismatches", "warnings", Double(mismatches))]
    }

    /// One warning concerning `count` members, issued and delivered for real.
    static func fanOut(_ count: Int, in directory: String) throws -> [(String, String, Double)] {
        let store = try CommunityStore(path: "\(directory)/community.sqlite")
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        let hour = ChinaTime.hour(now)
        var team = Xunfang_Community_V1_Team()
        team.id = "T-1"
        team.stationID = "510000-01-01"
        try store.put(teams: [team], audit: Xunfang_Community_V1_AuditEntry())
        let members = (0..<count).map { number -> (member: Xunfang_Community_V1_Member, personal: Data?) in
            var member = Xunfang_Community_V1_Member()
            member.id = String(format: "M-%06d", number)
            member.teamID = "T-1"
            member.roadSegments = ["1001-1002"]
            member.hours = (1...7).map { day in
                var slot = Xunfang_Community_V1_WeeklySlot()
                slot.day = UInt32(day)
                slot.startMinute = 0
                slot.endMinute = 1_440
                return slot
            }
            return (member, nil)
        }
        try store.put(members: members, audit: Xunfang_Community_V1_AuditEntry())
        var policy = AlertPolicy()
        policy.quietHours = nil
        let alerting = Alerting(store: store, policy: policy, sender: "xunfang.community", now: { now })
        var warning = Xunfang_Situation_V1_Warning()
        warning.stationID = "510000-01-01"
        warning.day = ChinaTime.label(ofDay: ChinaTime.dayNumber(now) - 1)
        warning.roadSegments = ["1001-1002"]
        warning.hotHours = [UInt32(hour)]
        // As the demo's warnings read: three hot grids, each a rectangle about 800 m across.
        let areas = (0..<3).map { index in
            let west = 104.25 + 0.009 * Double(index), south = 30.95
            return Cap.Area(description: "城关\(index + 1)号网格", outline: [GeoPoint(longitude: west, latitude: south), GeoPoint(longitude: west + 0.009, latitude: south),
                                                                      GeoPoint(longitude: west + 0.009, latitude: south + 0.0075), GeoPoint(longitude: west, latitude: south + 0.0075)])
        }
        var issued = 0
        let issue = try BenchReport.milliseconds { issued = try alerting.issue(warning, areas: areas).alerts.count }
        let notifier = try OutboxDirectoryNotifier(directory: "\(directory)/alerts")
        let due = try store.undelivered(dueBy: now, limit: count)
        var delivered = 0
        let deliver = try BenchReport.milliseconds { delivered = try runBlocking { try await alerting.deliverDue(to: notifier) } }
        precondition(delivered == issued, "every issued alert is delivered")
        // The floor beside the plugin's own delivery step: the same documents written plainly
        // (open, write, close; no nameless file, no sync, no store), after ours so that ours
        // does not flush them.
        let plain = "\(directory)/plain"
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        let floor = writePlainly(due, in: plain)
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(directory)/alerts").filter { $0.hasSuffix(".xml") }.count
        return [("fan-out: alerts issued", "alerts", Double(issued)),
                ("fan-out: issue (store, CAP, messages)", "ms", issue),
                ("fan-out: deliver to outbox dir (read, write, link, sync, mark; 2 batches in flight)", "ms", deliver),
                ("fan-out: total", "ms", issue + deliver),
                ("fan-out: baseline, the same files written plainly", "ms", floor),
                ("fan-out: files written", "files", Double(files))]
    }

    /// A team's record book of `count` chained entries on signed pages of 40 (a round's
    /// records: two volunteers and an officer sign each), verified whole in memory and as
    /// `xunfang community verify` reads it from a file.
    static func records(_ count: Int, in directory: String) throws -> [(String, String, Double)] {
        let signers = (0..<20).map { _ in Curve25519.Signing.PrivateKey() }
        let ids = signers.indices.map { "S-\($0)" }
        let keys = Dictionary(uniqueKeysWithValues: zip(ids, signers.map(\.publicKey)))
        let privateKeys = Dictionary(uniqueKeysWithValues: zip(ids, signers))
        var book = RecordBook(signers: keys.mapValues { $0.rawRepresentation.base64EncodedString() }, entries: [], pages: [])
        book.entries.reserveCapacity(count)
        let perPage = 40
        let sign = try BenchReport.milliseconds {
            for index in 0..<count {
                let round = index / perPage
                book.entries.append(RecordChain.append(after: book.entries.last, team: "T-1", at: 1_764_554_400_000 + Int64(index) * 60_000, kind: "patrol",
                                                       text: "巡逻第\(index)次，路段1001-1002，无异常", member: ids[(round + index % 2) % 10],
                                                       officer: ids[10 + round % 10]))
                if (index + 1) % perPage == 0 || index + 1 == count {
                    book.pages.append(try RecordChain.sign(book.entries[(round * perPage)...], number: Int64(round + 1), keys: privateKeys))
                }
            }
        }
        var fault: RecordChain.Fault?
        let verify = BenchReport.milliseconds { fault = RecordChain.verify(book.entries, pages: book.pages, keys: keys) }
        var tampered = book.entries
        tampered[count / 2].text += "。"
        var found: RecordChain.Fault?
        let verifyTampered = BenchReport.milliseconds { found = RecordChain.verify(tampered, pages: book.pages, keys: keys) }
        let path = "\(directory)/book.json"
        try JSONEncoder().encode(book).write(to: URL(fileURLWithPath: path))
        var verdict: Result<String, VerifyCommand.Problem>?
        let command = BenchReport.milliseconds { verdict = VerifyCommand.check(path, keys: nil) }
        // The baseline: the same book with both signatures on every entry (v1 books) needs
        // two Ed25519 checks an entry, shared among the cores at best.
        let sample = RecordChain.body(book.pages[0]), signature = Data(base64Encoded: book.pages[0].signatures.values.first!)!
        let key = keys[book.pages[0].signatures.keys.first!]!
        let checks = 2_000
        let oneCheck = BenchReport.milliseconds { for _ in 0..<checks { precondition(key.isValidSignature(signature, for: sample)) } } / Double(checks)
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        let bad = (fault == nil ? 0 : 1) + (found?.index == count / 2 ? 0 : 10) + ((try? verdict?.get()) == nil ? 100 : 0)
        return [("records: write and sign", "ms", sign), ("records: signed pages", "pages", Double(book.pages.count)),
                ("records: verify whole book", "ms", verify),
                ("records: verify, one changed", "ms", verifyTampered),
                ("records: verify command (JSON file)", "ms", command),
                ("records: one signature check", "µs", oneCheck * 1_000),
                ("records: baseline, signed per entry (floor, all cores)", "ms", 2 * Double(count) * oneCheck / cores),
                ("records: wrong verdicts (must be 0)", "count", Double(bad))]
    }

    /// `batch`'s documents written plainly in `directory`; milliseconds taken.
    static func writePlainly(_ batch: [DeliverableAlert], in directory: String) -> Double {
        BenchReport.milliseconds {
            for item in batch {
                let descriptor = open("\(directory)/\(item.alert.id).xml", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                let bytes = Array(item.cap.utf8)
                precondition(descriptor >= 0 && Glibc.write(descriptor, bytes, bytes.count) == bytes.count)
                close(descriptor)
            }
        }
    }

    /// The type of the file system `path` is on (`/proc/mounts`): the fan-out's pace is the disk's.
    static func fileSystem(of path: String) -> String {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        var best: (point: String, type: String, device: String)?
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count >= 3 else { continue }
            let point = fields[1], under = point == "/" || resolved == point || resolved.hasPrefix(point + "/")
            if under && point.count > (best?.point.count ?? -1) { best = (point, fields[2], fields[0]) }
        }
        return best.map { "\($0.type) (\($0.device))" } ?? "an unknown file system"
    }

    /// Runs async work from this synchronous command.
    static func runBlocking<Value: Sendable>(_ body: @escaping @Sendable () async throws -> Value) throws -> Value {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<Value, any Error>?>(nil)
        Task {
            let result: Result<Value, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }
}

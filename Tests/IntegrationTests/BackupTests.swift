import Foundation
import Testing
import XunfangTestSupport

@Suite("Backup and restore of a running stack", .serialized)
struct BackupTests {
    @Test("a backup taken while the stack runs restores into a stack that serves the same answers; a damaged backup restores nothing")
    func backupRestore() async throws {
        let first = NSTemporaryDirectory() + "xf-backup-\(UUID().uuidString.prefix(8))"
        let second = first + "-restored"
        try FileManager.default.createDirectory(atPath: first, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: second, withIntermediateDirectories: true)
        let backup = first + "/backup"
        let listed: String
        do {
            let up = try startXunfang(["up"], in: first)
            defer {
                up.terminate()
                up.waitUntilExit()
            }
            let create = ["dispatch", "incident", "create", "--type", "theft", "--lon", "104.284", "--lat", "30.978",
                          "--report", "电动车被盗 backup-report", "--phone", "13800138000", "--external-id", "b-1"]
            #expect(try await eventually { try await run(create, in: first).output.contains("INC-000001") })
            // Situation keeps the incident from the durable topic: the consumer's position is in the log too.
            let breakdown = ["ctl", "call", "/xunfang.situation.v1.Situation/Breakdown", "--data", #"{"by":["DIMENSION_STATION"]}"#]
            #expect(try await eventually { try await run(breakdown, in: first).output.contains(#""total":1"#) })
            // A document half-written when the backup lists it (renamed into place a moment later) is not copied.
            let partial = "\(first)/data/community/alerts/.A-999999.xml.part"
            #expect(FileManager.default.createFile(atPath: partial, contents: Data("<alert".utf8), attributes: [.posixPermissions: 0o600]))
            let taken = try await run(["backup", backup], in: first)
            #expect(taken.status == 0 && taken.output.contains("durable log to sequence"), "\(taken.output)")
            #expect(!FileManager.default.fileExists(atPath: "\(backup)/community/alerts/.A-999999.xml.part"))
            try FileManager.default.removeItem(atPath: partial)
            listed = try await run(["dispatch", "incident", "list"], in: first).output
            // After the backup: not in it.
            _ = try await run(["dispatch", "incident", "create", "--type", "fight", "--lon", "104.29", "--lat", "30.97"], in: first)
            #expect(try await run(["restore", backup], in: first).status != 0, "a running stack is never restored over")
        }

        // A damaged backup: nothing is written.
        let segment = try #require(FileManager.default.contentsOfDirectory(atPath: backup + "/bus-log").first)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: "\(backup)/bus-log/\(segment)"))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: "\(backup)/bus-log/\(segment)"))
        let refused = try await run(["restore", backup], in: second)
        #expect(refused.status != 0 && !FileManager.default.fileExists(atPath: second + "/data"))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: "\(backup)/bus-log/\(segment)"))

        #expect(try await run(["restore", backup], in: second).status == 0)
        let up = try startXunfang(["up"], in: second)
        defer {
            up.terminate()
            up.waitUntilExit()
        }
        let list = ["dispatch", "incident", "list"]
        #expect(try await eventually { try await run(list, in: second).output == listed }, "the restored stack lists what the first listed at the backup")
        let personal = try await run(["dispatch", "personal", "INC-000001", "--purpose", "restore check"], in: second).output
        #expect(personal.contains("backup-report") && personal.contains("13800138000"), "sealed data opens with the restored keys: \(personal)")
        let breakdown = ["ctl", "call", "/xunfang.situation.v1.Situation/Breakdown", "--data", #"{"by":["DIMENSION_STATION"]}"#]
        #expect(try await eventually { try await run(breakdown, in: second).output.contains(#""total":1"#) })
        // Restoring over data needs --replace, and keeps the data it replaces.
        up.terminate()
        try await exited(up)
        #expect(try await run(["restore", backup], in: second).status != 0)
        #expect(try await run(["restore", backup, "--replace"], in: second).status == 0)
        let kept = try FileManager.default.contentsOfDirectory(atPath: second).filter { $0.hasPrefix("data.before-restore-") }
        #expect(kept.count == 1)

        // Without keys: the key is named, not copied, and a restore over the server's data takes it from there.
        let keyless = first + "/backup-without-keys"
        // Every plugin that seals personal data has a key file: Dispatch and CommunityPolicing.
        let keys = ["community/community.key", "dispatch/sealing.key"]
        let sealingKeys = try keys.map { try Data(contentsOf: URL(fileURLWithPath: second + "/data/" + $0)) }
        #expect(try await run(["backup", keyless, "--without-keys"], in: second).output.contains("left out: \(keys.joined(separator: ", "))"))
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: keyless + "/MANIFEST.json"))) as? [String: Any]
        #expect(manifest?["leftOut"] as? [String] == keys)
        #expect(keys.allSatisfy { !FileManager.default.fileExists(atPath: keyless + "/" + $0) })
        #expect(try await run(["restore", keyless, "--replace"], in: second).status == 0)
        #expect(try keys.map { try Data(contentsOf: URL(fileURLWithPath: second + "/data/" + $0)) } == sealingKeys)
        let keptBoth = try FileManager.default.contentsOfDirectory(atPath: second).filter { $0.hasPrefix("data.before-restore-") }
        #expect(keptBoth.count == 2, "two restores in one second keep both replaced directories: \(keptBoth)")
        let third = first + "-keyless"
        try FileManager.default.createDirectory(atPath: third, withIntermediateDirectories: true)
        let elsewhere = try await run(["restore", keyless], in: third)
        for key in keys {
            #expect(elsewhere.status == 0 && elsewhere.output.contains("warning: \(key) was left out"), "\(elsewhere.output)")
            #expect(!FileManager.default.fileExists(atPath: third + "/data/" + key))
        }
    }
}

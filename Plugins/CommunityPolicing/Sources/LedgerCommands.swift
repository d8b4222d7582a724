import Foundation
import XunfangPluginKit
import CommunityPolicingContract

/// `xunfang community import|export|audit`: the ledgers and the audit log from a shell, over
/// the bus as the ctl client (its ACL decides, as for any caller).
enum LedgerCommands {
    static let usage = """
    usage: xunfang community import --kind teams|members|duty-posts|duty-records --file FILE.csv [--data-dir DIR] [--bus ENDPOINT]
           xunfang community export --kind teams|members [--out FILE.csv] [--data-dir DIR] [--bus ENDPOINT]
           xunfang community audit [--member ID] [--since yyyy-mm-dd] [--limit N] [--data-dir DIR] [--bus ENDPOINT]
    A ledger of any size is checked whole first: one bad line and nothing is imported. Larger
    than one call takes (3 MiB), it then goes in parts at line ends, rows added or replaced by id.
    """
    static let maxFileBytes = 64 * 1_024 * 1_024

    static func kind(_ text: String?) -> Xunfang_Community_V1_LedgerKind? {
        switch text {
        case "teams": .teams
        case "members": .members
        case "duty-posts": .dutyPosts
        case "duty-records": .dutyRecords
        default: nil
        }
    }

    static func importLedger(_ arguments: [String]) async -> Int32 {
        guard let options = commandOptions(arguments, allowed: ["--kind", "--file", "--data-dir", "--bus"]),
              let kind = kind(options["--kind"]), let path = options["--file"] else { return fail("import", usage) }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path), let size = attributes[.size] as? Int,
              let data = FileManager.default.contents(atPath: path) else { return fail("import", "cannot read \(path)") }
        guard size <= maxFileBytes else { return fail("import", "\(path) is \(size) bytes; at most \(maxFileBytes)") }
        let text = String(decoding: data, as: UTF8.self)
        let connection = ToolConnection(options: options)
        do {
            // Checked whole here, so a bad line late in a large file keeps the early parts out too.
            let errors: [Xunfang_Community_V1_LineError]
            switch kind {
            case .members:
                let teams = try await connection.callOnce(CommunityPlugin.service + "ListTeams", Xunfang_Community_V1_ListTeamsRequest(),
                                                          as: Xunfang_Community_V1_ListTeamsResponse.self).teams
                errors = Ledger.check(members: text, teams: Set(teams.map(\.id)))
            case .dutyPosts:
                errors = Ledger.rejected(Ledger.dutyPosts(csv: text, maxBytes: maxFileBytes))
            case .dutyRecords:
                var request = Xunfang_Community_V1_ComplianceRequest()
                request.period = .week
                let posts = try await connection.callOnce(CommunityPlugin.service + "Compliance", request, as: Xunfang_Community_V1_ComplianceReport.self).items
                let places = DutyRules.places(posts.map { item in
                    Xunfang_Community_V1_DutyPost.with { $0.id = item.postID; $0.kind = item.kind; $0.gridID = item.gridID }
                })
                errors = Ledger.rejected(Ledger.dutyRecords(csv: text, places: places, maxBytes: maxFileBytes))
            default:
                errors = Ledger.check(teams: text)
            }
            guard errors.isEmpty else {
                for error in errors { FileHandle.standardError.write(Data("\(path):\(error.line): \(error.message)\n".utf8)) }
                return fail("import", "nothing imported: \(errors.count) line(s) refused")
            }
            var imported = 0
            for part in Ledger.parts(text, maxBytes: Ledger.maxCSVBytes) {
                var request = Xunfang_Community_V1_ImportLedgerRequest()
                request.kind = kind
                request.csv = part
                let answer = try await connection.callOnce(CommunityPlugin.service + "ImportLedger", request,
                                                           as: Xunfang_Community_V1_ImportLedgerResponse.self, timeout: .seconds(120))
                guard answer.errors.isEmpty else {
                    return fail("import", "refused after \(imported) rows: \(answer.errors.prefix(3).map { "line \($0.line): \($0.message)" })")
                }
                imported += Int(answer.imported)
            }
            print("imported \(imported) \(options["--kind"]!) from \(path)")
            return 0
        } catch {
            return fail("import", "\(error)")
        }
    }

    static func exportLedger(_ arguments: [String]) async -> Int32 {
        guard let options = commandOptions(arguments, allowed: ["--kind", "--out", "--data-dir", "--bus"]), let kind = kind(options["--kind"]) else {
            return fail("export", usage)
        }
        var request = Xunfang_Community_V1_ExportLedgerRequest()
        request.kind = kind
        do {
            let client = try await ToolConnection(options: options).connect()
            var csv = ""
            repeat {
                let page = try await client.call(CommunityPlugin.service + "ExportLedger", request, as: Xunfang_Community_V1_ExportLedgerResponse.self,
                                                 timeout: .seconds(60))
                csv += csv.isEmpty ? page.csv : String(page.csv.drop { $0 != "\n" }.dropFirst())
                request.afterID = page.nextAfterID
            } while !request.afterID.isEmpty
            await client.close()
            guard let path = options["--out"] else {
                FileHandle.standardOutput.write(Data(csv.utf8))
                return 0
            }
            try csv.write(toFile: path, atomically: true, encoding: .utf8)
            print("wrote \(csv.split(separator: "\n").count - 1) \(options["--kind"]!) to \(path)")
            return 0
        } catch {
            return fail("export", "\(error)")
        }
    }

    static func audit(_ arguments: [String]) async -> Int32 {
        guard let options = commandOptions(arguments, allowed: ["--member", "--since", "--limit", "--data-dir", "--bus"]) else { return fail("audit", usage) }
        var request = Xunfang_Community_V1_AuditRequest()
        request.memberID = options["--member"] ?? ""
        if let since = options["--since"] {
            guard let day = ChinaTime.dayNumber(label: since) else { return fail("audit", "--since \(since) is not yyyy-mm-dd") }
            request.since = ChinaTime.start(ofDay: day)
        }
        if let limit = options["--limit"] {
            guard let value = UInt32(limit), (1...10_000).contains(value) else { return fail("audit", "--limit must be 1 to 10000") }
            request.limit = value
        }
        do {
            let entries = try await ToolConnection(options: options).callOnce(CommunityPlugin.service + "Audit", request, as: Xunfang_Community_V1_AuditResponse.self).entries
            for entry in entries {
                let who = entry.onBehalfOf.isEmpty ? entry.who : "\(entry.who) for \(entry.onBehalfOf)"
                print([ChinaTime.format(milliseconds: entry.at), who, entry.action, entry.memberID.isEmpty ? "-" : entry.memberID, entry.purpose]
                    .joined(separator: "  "))
            }
            if entries.isEmpty { print("no audit entries") }
            return 0
        } catch {
            return fail("audit", "\(error)")
        }
    }

    /// `records --team T --out BOOK.json [--keys-out KEYS.json]`: a team's whole record book
    /// as `verify` reads it (entries and signed pages, read in parts), and the signers'
    /// registered keys.
    static func records(_ arguments: [String]) async -> Int32 {
        guard let options = commandOptions(arguments, allowed: ["--team", "--out", "--keys-out", "--data-dir", "--bus"]),
              let team = options["--team"], let path = options["--out"] else {
            return fail("records", "usage: xunfang community records --team ID --out BOOK.json [--keys-out KEYS.json]")
        }
        do {
            let client = try await ToolConnection(options: options).connect()
            var request = Xunfang_Community_V1_ListRecordsRequest()
            request.teamID = team
            var book = RecordBook(signers: [:], entries: [], pages: [])
            while true {
                let page = try await client.call(CommunityPlugin.service + "ListRecords", request, as: Xunfang_Community_V1_ListRecordsResponse.self,
                                                 timeout: .seconds(60))
                book.entries += page.records.map(RecordEntry.init)
                book.pages += page.pages.map(RecordPage.init)
                for signer in page.signers { book.signers[signer.id] = signer.publicKey.base64EncodedString() }
                guard let last = page.records.last else { break }
                request.afterSeq = last.seq
            }
            await client.close()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try encoder.encode(book).write(to: URL(fileURLWithPath: path), options: .atomic)
            if let keys = options["--keys-out"] { try encoder.encode(book.signers).write(to: URL(fileURLWithPath: keys), options: .atomic) }
            print("wrote \(book.entries.count) entries of \(team) on \(book.pages.count) signed pages to \(path)")
            return 0
        } catch {
            return fail("records", "\(error)")
        }
    }

    static func fail(_ command: String, _ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang community \(command): \(message)\n".utf8))
        return 1
    }
}

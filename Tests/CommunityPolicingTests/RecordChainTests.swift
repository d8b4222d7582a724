@testable import CommunityPolicingPlugin
import Crypto
import Foundation
import Testing
import CommunityPolicingContract
import XunfangPluginKit
import XunfangWire

@Suite("Co-signed record books")
struct RecordChainTests {
    let volunteer = Curve25519.Signing.PrivateKey(), officer = Curve25519.Signing.PrivateKey(), stranger = Curve25519.Signing.PrivateKey()
    var keys: [String: Curve25519.Signing.PublicKey] { ["M-1": volunteer.publicKey, "P-7": officer.publicKey] }

    func book(_ count: Int = 6) throws -> [RecordEntry] {
        var entries: [RecordEntry] = []
        for index in 0..<count {
            entries.append(try RecordChain.append(after: entries.last, team: "T-01", at: mondayTen + Int64(index) * hour,
                                                  kind: index % 2 == 0 ? "patrol" : "inspection", text: "第\(index + 1)次巡逻，无异常",
                                                  member: ("M-1", volunteer), officer: ("P-7", officer)))
        }
        return entries
    }

    @Test("an intact book holds; each kind of tamper is caught at the entry it touches, and named")
    func tampering() throws {
        let entries = try book()
        #expect(RecordChain.verify(entries, keys: keys) == nil)
        #expect(entries[0].previous == RecordChain.genesis && entries[3].previous == RecordChain.hash(entries[2]))

        var changed = entries
        changed[2].text = "第3次巡逻，发现可疑人员"
        #expect(RecordChain.verify(changed, keys: keys)?.index == 2)
        #expect(RecordChain.verify(changed, keys: keys)?.reason.contains("signature") == true)

        // One side re-signs a changed entry: the other side's signature no longer holds.
        var resigned = entries
        resigned[2].text = "改过的记录"
        resigned[2].memberSignature = try volunteer.signature(for: RecordChain.body(resigned[2])).base64EncodedString()
        #expect(RecordChain.verify(resigned, keys: keys)?.reason.contains("officer") == true)

        // Both re-signed (collusion after the fact): the next entry's link breaks.
        resigned[2].officerSignature = try officer.signature(for: RecordChain.body(resigned[2])).base64EncodedString()
        let link = RecordChain.verify(resigned, keys: keys)
        #expect(link?.index == 3 && link?.reason.contains("does not link") == true)

        var dropped = entries
        dropped.remove(at: 1)
        #expect(RecordChain.verify(dropped, keys: keys).map { ($0.index, $0.reason.contains("missing")) } ?? (-1, false) == (1, true))

        var reordered = entries
        reordered.swapAt(3, 4)
        #expect(RecordChain.verify(reordered, keys: keys)?.index == 3)

        var truncatedFront = Array(entries.dropFirst())
        truncatedFront[0].seq = 1
        #expect(RecordChain.verify(truncatedFront, keys: keys)?.index == 0)

        // A forged entry signed with a key nobody registered, and one naming an unknown signer.
        var forged = entries
        forged[5] = try RecordChain.append(after: entries[4], team: "T-01", at: mondayTen, kind: "patrol", text: "伪造",
                                           member: ("M-1", stranger), officer: ("P-7", officer))
        #expect(RecordChain.verify(forged, keys: keys)?.reason.contains("volunteer's signature (M-1)") == true)
        forged[5] = try RecordChain.append(after: entries[4], team: "T-01", at: mondayTen, kind: "patrol", text: "伪造",
                                           member: ("M-9", stranger), officer: ("P-7", officer))
        #expect(RecordChain.verify(forged, keys: keys)?.reason.contains("M-9 has no registered key") == true)

        var mixed = entries
        mixed[4].team = "T-02"
        #expect(RecordChain.verify(mixed, keys: keys)?.index == 4)

        var garbled = entries
        garbled[1].officerSignature = "not base64!"
        #expect(RecordChain.verify(garbled, keys: keys)?.index == 1)
    }

    @Test("verify names the first bad entry of a book file, with the keys kept apart from it or inside it")
    func command() throws {
        let directory = NSTemporaryDirectory() + "xf-records-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var entries = try book(200)
        let signers = keys.mapValues { $0.rawRepresentation.base64EncodedString() }
        func write(_ entries: [RecordEntry], signers: [String: String]) throws {
            try JSONEncoder().encode(RecordBook(signers: signers, entries: entries)).write(to: URL(fileURLWithPath: "\(directory)/book.json"))
        }
        try JSONEncoder().encode(signers).write(to: URL(fileURLWithPath: "\(directory)/keys.json"))
        try write(entries, signers: signers)
        #expect(VerifyCommand.run(["--file", "\(directory)/book.json", "--keys", "\(directory)/keys.json"]) == 0)
        // A book re-signed whole with keys of its own passes alone but not against the kept keys.
        let thief = Curve25519.Signing.PrivateKey()
        var rewritten: [RecordEntry] = []
        for entry in entries {
            rewritten.append(try RecordChain.append(after: rewritten.last, team: entry.team, at: entry.at, kind: entry.kind, text: entry.text + "（改）",
                                                    member: ("M-1", thief), officer: ("P-7", thief)))
        }
        try write(rewritten, signers: ["M-1": thief.publicKey.rawRepresentation.base64EncodedString(),
                                       "P-7": thief.publicKey.rawRepresentation.base64EncodedString()])
        #expect(VerifyCommand.run(["--file", "\(directory)/book.json"]) == 0)
        #expect(VerifyCommand.run(["--file", "\(directory)/book.json", "--keys", "\(directory)/keys.json"]) == 1)
        entries[150].at += 1
        try write(entries, signers: signers)
        #expect(VerifyCommand.run(["--file", "\(directory)/book.json", "--keys", "\(directory)/keys.json"]) == 1)
        #expect(RecordChain.verify(entries, keys: keys)?.index == 150)
        try Data("{\"entries\": 3}".utf8).write(to: URL(fileURLWithPath: "\(directory)/book.json"))
        #expect(VerifyCommand.run(["--file", "\(directory)/book.json"]) == 1)
    }
}

@Suite("Record books over the bus")
struct RecordBookBusTests {
    @Test("entries go in only co-signed by registered keys, next in number and linked; a book read back verifies whole")
    func append() async throws {
        let stack = try await CommunityStack.start()
        let plugin = try await stack.plugin()
        let desk = try await stack.client("desk")
        let service = CommunityStack.service
        try await stack.importLedgers(by: desk)
        let volunteer = Curve25519.Signing.PrivateKey(), officer = Curve25519.Signing.PrivateKey()
        func register(_ id: String, _ role: Xunfang_Community_V1_SignerRole, _ key: Curve25519.Signing.PrivateKey) async throws {
            var signer = Xunfang_Community_V1_Signer()
            signer.id = id
            signer.role = role
            signer.publicKey = key.publicKey.rawRepresentation
            _ = try await desk.call(service + "RegisterSigner", signer, as: Xunfang_Community_V1_SignerResponse.self)
        }
        try await register("M-1", .volunteer, volunteer)
        try await register("P-7", .officer, officer)
        await #expect { try await register("M-404", .volunteer, volunteer) } throws: { ($0 as? BusClientError)?.code == .notFound }
        func code(_ entry: RecordEntry) async -> StatusCode? {
            do {
                _ = try await desk.call(service + "AppendRecord", entry.record, as: Xunfang_Community_V1_AppendRecordResponse.self)
                return nil
            } catch let error as BusClientError {
                return error.code
            } catch {
                return .unknown
            }
        }
        var book: [RecordEntry] = []
        for index in 0..<3 {
            let entry = try RecordChain.append(after: book.last, team: "T-01", at: mondayTen + Int64(index) * hour, kind: "patrol",
                                               text: "第\(index + 1)次巡逻", member: ("M-1", volunteer), officer: ("P-7", officer))
            #expect(await code(entry) == nil)
            book.append(entry)
        }
        #expect(await code(book[2]) == .failedPrecondition, "the same entry twice")
        var changed = try RecordChain.append(after: book.last, team: "T-01", at: mondayTen, kind: "patrol", text: "原文", member: ("M-1", volunteer),
                                             officer: ("P-7", officer))
        changed.text = "改文"
        #expect(await code(changed) == .invalidArgument, "a signature over other text")
        let skipped = try RecordChain.append(after: book.first, team: "T-01", at: mondayTen, kind: "patrol", text: "跳号", member: ("M-1", volunteer),
                                             officer: ("P-7", officer))
        #expect(await code(skipped) == .failedPrecondition, "linked to an old entry")
        let stranger = try RecordChain.append(after: book.last, team: "T-01", at: mondayTen, kind: "patrol", text: "无名", member: ("M-1", volunteer),
                                              officer: ("P-9", officer))
        #expect(await code(stranger) == .failedPrecondition, "an officer with no registered key")
        let elsewhere = try RecordChain.append(after: book.last, team: "T-02", at: mondayTen, kind: "patrol", text: "他队", member: ("M-1", volunteer),
                                               officer: ("P-7", officer))
        #expect(await code(elsewhere) == .invalidArgument, "a volunteer of another team")

        var list = Xunfang_Community_V1_ListRecordsRequest()
        list.teamID = "T-01"
        let stored = try await desk.call(service + "ListRecords", list, as: Xunfang_Community_V1_ListRecordsResponse.self)
        let entries = stored.records.map(RecordEntry.init)
        #expect(entries == book && stored.lastHash == RecordChain.hash(book[2]))
        let keys = try RecordBook.keys(Dictionary(uniqueKeysWithValues: stored.signers.map { ($0.id, $0.publicKey.base64EncodedString()) }))
        #expect(RecordChain.verify(entries, keys: keys) == nil)
        plugin.task.cancel()
        await plugin.client.close()
        await desk.close()
        await stack.server.stop()
    }
}

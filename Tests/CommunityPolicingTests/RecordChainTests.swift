@testable import CommunityPolicingPlugin
import Crypto
import Foundation
import SwiftProtobuf
import Testing
import CommunityPolicingContract
import XunfangPluginKit
import XunfangWire

@Suite("Record books on signed pages")
struct RecordChainTests {
    let volunteer = Curve25519.Signing.PrivateKey(), partner = Curve25519.Signing.PrivateKey(), officer = Curve25519.Signing.PrivateKey()
    let stranger = Curve25519.Signing.PrivateKey()
    var keys: [String: Curve25519.Signing.PublicKey] { ["M-1": volunteer.publicKey, "M-2": partner.publicKey, "P-7": officer.publicKey] }
    var signingKeys: [String: Curve25519.Signing.PrivateKey] { ["M-1": volunteer, "M-2": partner, "P-7": officer] }

    /// `count` entries, two volunteers taking turns with one officer, on pages of `perPage`
    /// (the last `unsigned` entries on none).
    func book(_ count: Int = 6, perPage: Int = 3, unsigned: Int = 0) throws -> (entries: [RecordEntry], pages: [RecordPage]) {
        var entries: [RecordEntry] = []
        for index in 0..<count {
            entries.append(RecordChain.append(after: entries.last, team: "T-01", at: mondayTen + Int64(index) * hour, kind: index % 2 == 0 ? "patrol" : "inspection",
                                              text: "第\(index + 1)次巡逻，无异常", member: index % 2 == 0 ? "M-1" : "M-2", officer: "P-7"))
        }
        let pages = try stride(from: 0, to: count - unsigned, by: perPage).map { start in
            try RecordChain.sign(entries[start..<min(start + perPage, count - unsigned)], number: Int64(start / perPage + 1), keys: signingKeys)
        }
        return (entries, pages)
    }

    /// Page `number` signed again over its entries as they are now, by `signers` only.
    func resign(_ entries: [RecordEntry], _ pages: [RecordPage], number: Int, by signers: [String: Curve25519.Signing.PrivateKey]) throws -> [RecordPage] {
        var pages = pages
        let page = pages[number - 1]
        var resigned = RecordPage(team: page.team, number: page.number, firstSeq: page.firstSeq, lastSeq: page.lastSeq,
                                  hashes: entries[Int(page.firstSeq - 1)..<Int(page.lastSeq)].map(RecordChain.hash), signatures: page.signatures)
        for (id, key) in signers { resigned.signatures[id] = try key.signature(for: RecordChain.body(resigned)).base64EncodedString() }
        pages[number - 1] = resigned
        return pages
    }

    @Test("an intact book holds; each kind of tamper is caught at the entry or page it touches, and named")
    func tampering() throws {
        let (entries, pages) = try book()
        #expect(RecordChain.verify(entries, pages: pages, keys: keys) == nil)
        #expect(entries[0].previous == RecordChain.genesis && entries[3].previous == RecordChain.hash(entries[2]))
        #expect(pages.map(\.signatures.count) == [3, 3], "both volunteers and the officer sign each page")

        var changed = entries
        changed[1].text = "第2次巡逻，发现可疑人员"
        let afterSigning = RecordChain.verify(changed, pages: pages, keys: keys)
        #expect(afterSigning?.index == 1 && afterSigning?.reason.contains("changed after page 1 was signed") == true)

        // The page's list rewritten to match, unsigned: no signature holds over it.
        var relisted = try resign(changed, pages, number: 1, by: [:])
        #expect(RecordChain.verify(changed, pages: relisted, keys: keys).map { ($0.page, $0.index, $0.reason.contains("signature")) } ?? (nil, -1, false) == (1, 0, true))
        // One side re-signs it: the other sides' signatures no longer hold.
        relisted = try resign(changed, pages, number: 1, by: ["M-1": volunteer, "M-2": partner])
        #expect(RecordChain.verify(changed, pages: relisted, keys: keys)?.reason.contains("officer's signature (P-7)") == true)
        // Everyone re-signs (collusion after the fact): the next entry's link breaks.
        relisted = try resign(changed, pages, number: 1, by: signingKeys)
        let link = RecordChain.verify(changed, pages: relisted, keys: keys)
        #expect(link?.index == 2 && link?.reason.contains("does not link") == true)

        var dropped = entries
        dropped.remove(at: 1)
        #expect(RecordChain.verify(dropped, pages: pages, keys: keys).map { ($0.index, $0.reason.contains("missing")) } ?? (-1, false) == (1, true))
        var reordered = entries
        reordered.swapAt(3, 4)
        #expect(RecordChain.verify(reordered, pages: pages, keys: keys)?.index == 3)
        var truncatedFront = Array(entries.dropFirst())
        truncatedFront[0].seq = 1
        #expect(RecordChain.verify(truncatedFront, pages: pages, keys: keys)?.index == 0)
        var mixed = entries
        mixed[4].team = "T-02"
        #expect(RecordChain.verify(mixed, pages: pages, keys: keys)?.index == 4)

        // A page signed with a key nobody registered; one naming a signer with no key; one
        // a signer did not sign; one with a signature that is not even base64.
        let forged = try resign(entries, pages, number: 2, by: ["M-1": stranger])
        let forgery = RecordChain.verify(entries, pages: forged, keys: keys)
        #expect(forgery?.page == 2 && forgery?.index == 3 && forgery?.reason.contains("volunteer's signature (M-1)") == true)
        var named = entries
        named[5] = RecordChain.append(after: entries[4], team: "T-01", at: mondayTen, kind: "patrol", text: "伪造", member: "M-9", officer: "P-7")
        let unknown = try RecordChain.sign(named[3...], number: 2, keys: signingKeys.merging(["M-9": stranger]) { $1 })
        #expect(RecordChain.verify(named, pages: [pages[0], unknown], keys: keys)?.reason.contains("M-9 has no registered key") == true)
        var unsigned = pages
        unsigned[1].signatures["P-7"] = nil
        #expect(RecordChain.verify(entries, pages: unsigned, keys: keys)?.reason.contains("officer P-7 has not signed it") == true)
        var garbled = pages
        garbled[0].signatures["M-2"] = "not base64!"
        #expect(RecordChain.verify(entries, pages: garbled, keys: keys)?.page == 1)

        // Pages out of order, overlapping, or reaching past the book.
        #expect(RecordChain.verify(entries, pages: [pages[1], pages[0]], keys: keys)?.reason.contains("numbered 2 where page 1 was due") == true)
        var overlapping = pages
        overlapping[1].firstSeq = 3
        #expect(RecordChain.verify(entries, pages: overlapping, keys: keys)?.reason.contains("the page before ended at 3") == true)
        #expect(RecordChain.verify(Array(entries.prefix(5)), pages: pages, keys: keys)?.reason.contains("the book has 5") == true)
    }

    @Test("entries after the last page are not signed yet, not a fault; a page needs an entry and a key for everyone it names")
    func unsignedTail() throws {
        let (entries, pages) = try book(8, perPage: 3, unsigned: 2)
        #expect(pages.map(\.lastSeq) == [3, 6])
        #expect(RecordChain.verify(entries, pages: pages, keys: keys) == nil)
        #expect(throws: RecordChain.Fault.self) { try RecordChain.sign(entries[6...], number: 3, keys: ["P-7": officer]) }
        #expect(throws: RecordChain.Fault.self) { try RecordChain.sign(entries[8...], number: 3, keys: signingKeys) }
    }

    @Test("verify names the first bad entry of a book file, with the keys kept apart from it or inside it")
    func command() throws {
        let directory = NSTemporaryDirectory() + "xf-records-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var (entries, pages) = try book(200, perPage: 40, unsigned: 10)
        let signers = keys.mapValues { $0.rawRepresentation.base64EncodedString() }
        func write(_ entries: [RecordEntry], _ pages: [RecordPage], signers: [String: String]) throws {
            try JSONEncoder().encode(RecordBook(signers: signers, entries: entries, pages: pages)).write(to: URL(fileURLWithPath: "\(directory)/book.json"))
        }
        try JSONEncoder().encode(signers).write(to: URL(fileURLWithPath: "\(directory)/keys.json"))
        try write(entries, pages, signers: signers)
        let holds = VerifyCommand.check("\(directory)/book.json", keys: "\(directory)/keys.json")
        #expect((try? holds.get())?.contains("200 entries on 5 signed pages, every signature and link holds; the last 10 not signed yet") == true)
        // A book rewritten and signed whole with keys of its own passes alone but not against the kept keys.
        let thief = Curve25519.Signing.PrivateKey()
        var rewritten: [RecordEntry] = []
        for entry in entries {
            rewritten.append(RecordChain.append(after: rewritten.last, team: entry.team, at: entry.at, kind: entry.kind, text: entry.text + "（改）",
                                                member: entry.member, officer: entry.officer))
        }
        let thiefPages = try stride(from: 0, to: 200, by: 50).map { try RecordChain.sign(rewritten[$0..<$0 + 50], number: Int64($0 / 50 + 1), keys: signingKeys.mapValues { _ in thief }) }
        try write(rewritten, thiefPages, signers: signers.mapValues { _ in thief.publicKey.rawRepresentation.base64EncodedString() })
        #expect(VerifyCommand.run(["--file", "\(directory)/book.json"]) == 0)
        #expect(VerifyCommand.run(["--file", "\(directory)/book.json", "--keys", "\(directory)/keys.json"]) == 1)
        entries[150].at += 1
        try write(entries, pages, signers: signers)
        let caught = VerifyCommand.check("\(directory)/book.json", keys: "\(directory)/keys.json")
        #expect(caught.failure?.contains("entry 151 (seq 151): was changed after page 4 was signed") == true)
        try Data("{\"entries\": 3}".utf8).write(to: URL(fileURLWithPath: "\(directory)/book.json"))
        #expect(VerifyCommand.check("\(directory)/book.json", keys: nil).failure?.contains("is not a record book") == true)
    }
}

extension Result where Failure == VerifyCommand.Problem {
    var failure: String? {
        if case .failure(let problem) = self { return problem.message }
        return nil
    }
}

@Suite("Record books over the bus")
struct RecordBookBusTests {
    @Test("entries go in next in number and linked; a page only with the book's hashes and every signature it needs; a book read back verifies whole")
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
        try await register("P-7", .officer, officer)
        await #expect { try await register("M-404", .volunteer, volunteer) } throws: { ($0 as? BusClientError)?.code == .notFound }
        await #expect("a key is never replaced") { try await register("P-7", .officer, volunteer) } throws: { ($0 as? BusClientError)?.code == .failedPrecondition }
        func code<Request: SwiftProtobuf.Message>(_ method: String, _ request: Request) async -> StatusCode? {
            do {
                _ = try await desk.call(service + method, request, as: Google_Protobuf_Empty.self)
                return nil
            } catch let error as BusClientError {
                return error.code
            } catch {
                return .unknown
            }
        }
        var book: [RecordEntry] = []
        for index in 0..<3 {
            let entry = RecordChain.append(after: book.last, team: "T-01", at: mondayTen + Int64(index) * hour, kind: "patrol", text: "第\(index + 1)次巡逻",
                                           member: "M-1", officer: "P-7")
            #expect(await code("AppendRecord", entry.record) == nil)
            book.append(entry)
        }
        #expect(await code("AppendRecord", book[2].record) == .failedPrecondition, "the same entry twice")
        let skipped = RecordChain.append(after: book.first, team: "T-01", at: mondayTen, kind: "patrol", text: "跳号", member: "M-1", officer: "P-7")
        #expect(await code("AppendRecord", skipped.record) == .failedPrecondition, "linked to an old entry")
        let stranger = RecordChain.append(after: book.last, team: "T-01", at: mondayTen, kind: "patrol", text: "无名", member: "M-1", officer: "P-9")
        #expect(await code("AppendRecord", stranger.record) == .failedPrecondition, "an officer with no registered key")
        let elsewhere = RecordChain.append(after: book.last, team: "T-02", at: mondayTen, kind: "patrol", text: "他队", member: "M-1", officer: "P-7")
        #expect(await code("AppendRecord", elsewhere.record) == .invalidArgument, "a volunteer of another team")

        let both = ["M-1": volunteer, "P-7": officer]
        #expect(await code("SignPage", try RecordChain.sign(book[...], number: 1, keys: ["M-1": volunteer, "P-7": volunteer]).message) == .invalidArgument,
                "the officer's signature made with another key")
        var onlyOne = try RecordChain.sign(book[...], number: 1, keys: both)
        onlyOne.signatures["P-7"] = nil
        #expect(await code("SignPage", onlyOne.message) == .invalidArgument, "the officer has not signed")
        var other = book
        other[1].text = "改文"
        #expect(await code("SignPage", try RecordChain.sign(other[...], number: 1, keys: both).message) == .failedPrecondition, "a page of other entries")
        #expect(await code("SignPage", try RecordChain.sign(book[1...], number: 1, keys: both).message) == .failedPrecondition, "not from the first entry")
        var beyond = try RecordChain.sign(book[...], number: 1, keys: both).message
        beyond.lastSeq = 4
        beyond.entryHashes.append(Data(count: 32))
        #expect(await code("SignPage", beyond) == .failedPrecondition, "an entry the book does not have")
        #expect(await code("SignPage", try RecordChain.sign(book[..<2], number: 1, keys: both).message) == nil)
        #expect(await code("SignPage", try RecordChain.sign(book[..<2], number: 1, keys: both).message) == .failedPrecondition, "the same page twice")
        let fourth = RecordChain.append(after: book.last, team: "T-01", at: mondayTen + 3 * hour, kind: "inspection", text: "检查完毕", member: "M-1", officer: "P-7")
        #expect(await code("AppendRecord", fourth.record) == nil)
        book.append(fourth)

        var list = Xunfang_Community_V1_ListRecordsRequest()
        list.teamID = "T-01"
        let stored = try await desk.call(service + "ListRecords", list, as: Xunfang_Community_V1_ListRecordsResponse.self)
        let entries = stored.records.map(RecordEntry.init), pages = stored.pages.map(RecordPage.init)
        #expect(entries == book && pages.map(\.lastSeq) == [2] && stored.lastHash == RecordChain.hash(book[3]))
        let keys = try RecordBook.keys(Dictionary(uniqueKeysWithValues: stored.signers.map { ($0.id, $0.publicKey.base64EncodedString()) }))
        #expect(RecordChain.verify(entries, pages: pages, keys: keys) == nil)
        list.limit = 1
        #expect(try await desk.call(service + "ListRecords", list, as: Xunfang_Community_V1_ListRecordsResponse.self).pages.isEmpty,
                "a page comes with the part of the book it ends in")
        plugin.task.cancel()
        await plugin.client.close()
        await desk.close()
        await stack.server.stop()
    }
}

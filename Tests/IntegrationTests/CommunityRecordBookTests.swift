import CommunityPolicingContract
import Crypto
import Foundation
import Testing
import XunfangTestSupport
import XunfangPluginKit

extension CommunityCrashTests {
    @Test("a team's record book written over the bus, the plugin killed -9 between pages: records exports it whole, verify holds it with keys kept apart, and names the entry changed in the file")
    func recordBooks() async throws {
        let directory = try countyDirectory("xf-community-books", county: county)
        let up = try startXunfang(["up", "--config", "county.yaml"], in: directory)
        defer {
            if up.isRunning { up.terminate() }
            up.waitUntilExit()
        }
        let harness = try #require(await harnessClient(in: directory, secret: Self.secret))
        let members = (0..<2).map { String(format: "M-%05d,T-1,patroller,1001-1002,1-7@00:00-24:00,theft,,0.8,队员%d,", $0, $0) }
        #expect(try await importLedger(members, in: directory).status == 0)

        // The signers' devices: each registers its public key once and keeps the private one.
        let keys = ["M-00000": Curve25519.Signing.PrivateKey(), "M-00001": Curve25519.Signing.PrivateKey(), "P-7": Curve25519.Signing.PrivateKey()]
        for (id, key) in keys {
            var signer = Xunfang_Community_V1_Signer()
            signer.id = id
            signer.role = id.hasPrefix("M-") ? .volunteer : .officer
            signer.publicKey = key.publicKey.rawRepresentation
            _ = try await harness.call(Self.service + "RegisterSigner", signer, as: Xunfang_Community_V1_SignerResponse.self)
        }
        var hashes: [String] = []
        func write(_ count: Int) async throws {
            for _ in 0..<count {
                var record = Xunfang_Community_V1_Record()
                record.teamID = "T-1"
                record.seq = Int64(hashes.count + 1)
                record.at = 1_764_554_400_000 + record.seq * 600_000
                record.kind = record.seq % 5 == 0 ? "inspection" : "patrol"
                record.text = "第\(record.seq)次巡查，路段1001-1002，无异常"
                record.memberID = record.seq % 2 == 1 ? "M-00000" : "M-00001"
                record.officerID = "P-7"
                record.previous = hashes.last ?? String(repeating: "0", count: 64)
                let answer = try await harness.call(Self.service + "AppendRecord", record, as: Xunfang_Community_V1_AppendRecordResponse.self)
                #expect(answer.hash == Canonical.hash(record), "the README's encoding, written again here, gives the plugin's hash")
                hashes.append(answer.hash)
            }
        }
        func sign(page number: Int64, _ seqs: ClosedRange<Int64>) async throws {
            var page = Xunfang_Community_V1_RecordPage()
            page.teamID = "T-1"
            page.number = number
            page.firstSeq = seqs.lowerBound
            page.lastSeq = seqs.upperBound
            let listed = seqs.map { hashes[Int($0 - 1)] }
            page.entryHashes = listed.map(Canonical.bytes)
            let body = Canonical.page(team: "T-1", number: number, seqs: seqs, hashes: listed)
            page.signatures = try keys.sorted { $0.key < $1.key }.map { id, key in
                var signature = Xunfang_Community_V1_PageSignature()
                signature.signerID = id
                signature.signature = try key.signature(for: body)
                return signature
            }
            _ = try await harness.call(Self.service + "SignPage", page, as: Xunfang_Community_V1_SignPageResponse.self)
        }

        try await write(60)
        try await sign(page: 1, 1...40)
        let plugin = try #require(try await pluginChild("xunfang-plugin-community", of: up.processIdentifier))
        #expect(kill(plugin, SIGKILL) == 0)
        var list = Xunfang_Community_V1_ListRecordsRequest()
        list.teamID = "T-1"
        #expect(await eventually(within: 120) {
            (try? await harness.call(Self.service + "ListRecords", list, as: Xunfang_Community_V1_ListRecordsResponse.self))?.records.count == 60
        }, "every acknowledged entry is there after the restart")
        try await write(65)
        try await sign(page: 2, 41...80)
        try await sign(page: 3, 81...120)
        await harness.close()

        let exported = try await run(["community", "records", "--team", "T-1", "--out", "book.json"], in: directory)
        #expect(exported.status == 0 && exported.output.contains("wrote 125 entries of T-1 on 3 signed pages"), "\(exported.output)")
        try JSONEncoder().encode(keys.mapValues { $0.publicKey.rawRepresentation.base64EncodedString() }).write(to: URL(fileURLWithPath: "\(directory)/keys.json"))
        let holds = try await run(["community", "verify", "--file", "book.json", "--keys", "keys.json"], in: directory, withErrors: true)
        #expect(holds.status == 0 && holds.output.contains("125 entries on 3 signed pages, every signature and link holds; the last 5 not signed yet"), "\(holds.output)")

        let path = "\(directory)/book.json"
        var book = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var entries = try #require(book["entries"] as? [[String: Any]])
        entries[76]["text"] = "第77次巡查，路段1001-1002，发现可疑人员"
        book["entries"] = entries
        try JSONSerialization.data(withJSONObject: book).write(to: URL(fileURLWithPath: path))
        let caught = try await run(["community", "verify", "--file", "book.json", "--keys", "keys.json"], in: directory, withErrors: true)
        #expect(caught.status == 1 && caught.output.contains("entry 77 (seq 77): was changed after page 2 was signed"), "\(caught.output)")
    }
}

/// The record books' canonical encoding as Plugins/CommunityPolicing/README.md gives it,
/// written again from the text the way another maker's device would.
enum Canonical {
    static func hash(_ record: Xunfang_Community_V1_Record) -> String {
        var data = tag("xunfang.community.record.v2")
        put(record.teamID, &data)
        put(record.seq, &data)
        put(record.at, &data)
        for text in [record.kind, record.text, record.memberID, record.officerID, record.previous] { put(text, &data) }
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    static func page(team: String, number: Int64, seqs: ClosedRange<Int64>, hashes: [String]) -> Data {
        var data = tag("xunfang.community.page.v1")
        put(team, &data)
        for number in [number, seqs.lowerBound, seqs.upperBound, Int64(hashes.count)] { put(number, &data) }
        for hash in hashes { put(hash, &data) }
        return data
    }

    static func bytes(_ hex: String) -> Data {
        let digits = Array(hex.utf8)
        return Data(stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! })
    }

    private static func tag(_ text: String) -> Data { Data(text.utf8) + [0] }
    private static func put(_ text: String, _ data: inout Data) {
        data.append(contentsOf: withUnsafeBytes(of: UInt32(text.utf8.count).bigEndian, Array.init))
        data.append(contentsOf: Array(text.utf8))
    }
    private static func put(_ number: Int64, _ data: inout Data) { data.append(contentsOf: withUnsafeBytes(of: number.bigEndian, Array.init)) }
}

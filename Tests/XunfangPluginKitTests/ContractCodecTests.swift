import Foundation
import DispatchContract
import GridModelContract
import SwiftProtobuf
import Testing
import TemplateContract
import XunfangPluginKit

/// `xunfang ctl` speaks every contract from its descriptor set: what it encodes must be
/// what the generated code decodes, and what it decodes must be the generated code's JSON.
@Suite("Contract codec")
struct ContractCodecTests {
    let codec: ContractCodec

    init() throws {
        codec = try ContractCodec(descriptorSets: [GridModelDescriptors.fileDescriptorSet, TemplateDescriptors.fileDescriptorSet])
    }

    /// The same JSON object, compared as parsed JSON (key order and spacing aside).
    func sameJSON(_ object: Any, _ text: String) throws -> Bool {
        let expected = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! NSDictionary
        return (object as! NSDictionary).isEqual(expected)
    }

    @Test("JSON in, generated type out: nested messages, repeated fields, enums by name and number, doubles")
    func encodesWhatTheGeneratedCodeReads() throws {
        let json = #"{"target":{"longitude":104.28,"latitude":30.98,"datum":"DATUM_GCJ02"},"#
            + #""units":[{"id":"car-1","position":{"longitude":104.3,"latitude":30.99},"mode":2},{"id":"foot-2","mode":"TRAVEL_MODE_FOOT"}],"#
            + #""max_seconds":600,"plainSearch":true}"#
        let bytes = try codec.encode(json: json, as: "xunfang.grid_model.v1.EtaRequest")
        let request = try Xunfang_GridModel_V1_EtaRequest(serializedBytes: bytes)
        #expect(request.target.datum == .gcj02)
        #expect(request.units.map(\.id) == ["car-1", "foot-2"])
        #expect(request.units[0].position.latitude == 30.99)
        #expect(request.units[1].mode == .foot)
        #expect(request.maxSeconds == 600 && request.plainSearch)
        // JSON 0 and 1 are numbers, not false and true (on Linux they also cast to Bool).
        let one = try codec.encode(json: #"{"maxSeconds":1,"plainSearch":true}"#, as: "xunfang.grid_model.v1.EtaRequest")
        #expect(try Xunfang_GridModel_V1_EtaRequest(serializedBytes: one).maxSeconds == 1)
        #expect(throws: ContractCodec.Failure.self) { try codec.encode(json: #"{"plainSearch":1}"#, as: "xunfang.grid_model.v1.EtaRequest") }
    }

    @Test("generated type in, JSON out equal to SwiftProtobuf's own JSON, packed and unpacked repeated alike")
    func decodesLikeTheGeneratedCode() throws {
        var response = Xunfang_GridModel_V1_CoverageRequest()
        response.thresholdSeconds = [60, 180, 300]
        response.units = [.with { $0.id = "C001"; $0.position = .with { $0.longitude = 104.2; $0.latitude = 30.9 } }]
        let decoded = try codec.decode(try response.serializedData(), as: "xunfang.grid_model.v1.CoverageRequest")
        #expect(try sameJSON(decoded, try response.jsonString()))

        var echo = Xunfang_Template_V1_EchoResponse()
        echo.text = "巡防"
        let decodedEcho = try codec.decode(try echo.serializedData(), as: "xunfang.template.v1.EchoResponse")
        #expect(try sameJSON(decodedEcho, try echo.jsonString()))
        // Unpacked repeated doubles (tag per element) read the same as packed ones.
        var unpacked = Data([0x11]) + withUnsafeBytes(of: (60.0).bitPattern.littleEndian) { Data($0) }
        unpacked += Data([0x11]) + withUnsafeBytes(of: (180.0).bitPattern.littleEndian) { Data($0) }
        let list = try codec.decode(unpacked, as: "xunfang.grid_model.v1.CoverageRequest")["thresholdSeconds"] as? [Double]
        #expect(list == [60, 180])
    }

    @Test("for people: every field present (zero, empty, the first enum value) and times in China time; read back the same")
    func readableStyle() throws {
        let codec = try ContractCodec(descriptorSets: [DispatchDescriptors.fileDescriptorSet])
        var unit = Xunfang_Dispatch_V1_Unit()
        unit.callSign = "C001"
        unit.status = .offDuty
        unit.positionAt = 1_764_585_907_000  // 2025-12-01 18:45:07 China time
        let readable = try codec.decode(try unit.serializedData(), as: "xunfang.dispatch.v1.Unit", style: .readable)
        #expect(readable["status"] as? String == "UNIT_STATUS_OFF_DUTY")
        #expect((readable["crew"] as? NSNumber)?.intValue == 0 && readable["homeStation"] as? String == "")
        #expect((readable["capabilities"] as? [Any])?.isEmpty == true)
        #expect(readable["positionAt"] as? String == "2025-12-01 18:45:07 +08:00")
        #expect(readable["position"] == nil, "a message field absent stays absent")
        let strict = try codec.decode(try unit.serializedData(), as: "xunfang.dispatch.v1.Unit")
        #expect(strict["status"] == nil && strict["positionAt"] as? String == "1764585907000")

        var incident = Xunfang_Dispatch_V1_Incident()
        incident.id = "INC-000001"
        incident.times.received = 1_764_585_907_000
        let decoded = try codec.decode(try incident.serializedData(), as: "xunfang.dispatch.v1.Incident", style: .readable)
        #expect(decoded["escalatedAt"] is NSNull, "a time not set is null")
        let text = String(decoding: try JSONSerialization.data(withJSONObject: decoded), as: UTF8.self)
        let back = try Xunfang_Dispatch_V1_Incident(serializedBytes: try codec.encode(json: text, as: "xunfang.dispatch.v1.Incident"))
        #expect(back == incident)
        #expect(throws: ContractCodec.Failure.self) {
            try codec.encode(json: #"{"times":{"received":"2025-12-01 18:45:07 +09:00"}}"#, as: "xunfang.dispatch.v1.Incident")
        }
        #expect(ChinaTime.parse("2025-12-01 18:45") == 1_764_585_900_000)
        #expect(ChinaTime.parse("2025-02-30 10:00") == nil && ChinaTime.parse("2025-12-01 24:00") == nil)
    }

    @Test("every service method maps to its request and response types")
    func methodsFromServices() {
        #expect(codec.methods["/xunfang.grid_model.v1.GridModel/Eta"] == .init(input: "xunfang.grid_model.v1.EtaRequest", output: "xunfang.grid_model.v1.EtaResponse"))
        #expect(codec.methods["/xunfang.template.v1.Template/Echo"]?.output == "xunfang.template.v1.EchoResponse")
    }

    @Test("bad input is refused with the path of the offending field", arguments: [
        (#"{"target":{"longitude":"east"}}"#, "EtaRequest.target.longitude"),
        (#"{"units":[{"mode":"TRAVEL_MODE_HOVERCRAFT"}]}"#, "TRAVEL_MODE_HOVERCRAFT is not one of"),
        (#"{"units":[{"mode":42}]}"#, "42 is not a value of"),
        (#"{"maxSeconds":-1}"#, "is not a UInt32"),
        (#"{"speed":1}"#, "has no field speed"),
        (#"[1,2]"#, "expected a JSON object"),
        (#"{"units":{"id":"x"}}"#, "expected a JSON array"),
    ])
    func refusals(json: String, expected: String) {
        #expect {
            _ = try codec.encode(json: json, as: "xunfang.grid_model.v1.EtaRequest")
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test("damaged bytes and unknown types are refused, not guessed")
    func damagedBytes() throws {
        #expect(throws: ContractCodec.Failure.self) { try codec.decode(Data([0x0A, 0x05, 0x01]), as: "xunfang.grid_model.v1.EtaRequest") }
        #expect(throws: ContractCodec.Failure.self) { try codec.decode(Data([0x08]), as: "xunfang.grid_model.v1.EtaRequest") }
        #expect(throws: ContractCodec.Failure.self) { try codec.encode(json: "{}", as: "xunfang.nowhere.v1.Nothing") }
        #expect(throws: ContractCodec.Failure.self) { try ContractCodec(descriptorSets: [Data("not a descriptor set".utf8)]) }
        // Nesting past the limit is refused rather than recursed into.
        var nested = Data()
        for _ in 0..<100 { nested = Data([0x0A, UInt8(min(nested.count, 127))]) + nested }
        #expect(throws: ContractCodec.Failure.self) { try codec.decode(nested, as: "xunfang.grid_model.v1.EtaRequest") }
    }
}

@Suite("Message bounds")
struct MessageBoundsTests {
    @Test("an unknown enum deep in a repeated message, or an overlong string, is refused; named values and short text pass")
    func bounds() throws {
        var request = Xunfang_GridModel_V1_EtaRequest()
        request.units = [.with { $0.id = "car-1"; $0.mode = .foot }]
        try MessageBounds().check(request)
        request.units.append(.with { $0.id = "car-2"; $0.mode = .UNRECOGNIZED(42) })
        #expect(throws: BusClientError.self) { try MessageBounds().check(request) }
        request.units.removeLast()
        request.units[0].id = String(repeating: "u", count: 8_193)
        #expect(throws: BusClientError.self) { try MessageBounds().check(request) }
        try MessageBounds(maxFieldBytes: 10_000).check(request)
        request.target.datum = .UNRECOGNIZED(99)
        #expect(throws: BusClientError.self) { try MessageBounds(maxFieldBytes: 10_000).check(request) }
    }
}

@Suite("China time")
struct ChinaTimeTests {
    @Test("day labels agree with Foundation's Gregorian calendar from 1900 to 2200, leap days included, and read back")
    func labels() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        var mismatches: [Int64] = []
        for number in stride(from: Int64(-25_567), through: 84_000, by: 11) + [11_016, 11_017, 47_540, 47_541, -1, 0] {
            let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(number) * 86_400))
            let expected = String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
            if ChinaTime.label(ofDay: number) != expected || ChinaTime.dayNumber(label: expected) != number { mismatches.append(number) }
        }
        #expect(mismatches.isEmpty)
        #expect(ChinaTime.label(ofDay: 11_016) == "2000-02-29" && ChinaTime.dayNumber(label: "2100-02-29") == nil && ChinaTime.dayNumber(label: "2025-13-01") == nil)
        #expect(ChinaTime.format(milliseconds: 1_764_585_900_000) == "2025-12-01 18:45:00 +08:00")
    }

    @Test("times read as Foundation's formatter writes them in China time, before 1970 and after, at midnight and just before")
    func times() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = ChinaTime.zone
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        var generator = SystemRandomNumberGenerator()
        let instants: [Int64] = [0, -1_000, 1_764_518_400_000, 1_764_518_399_000, 253_402_271_999_000]
            + (0..<2_000).map { _ in Int64.random(in: -2_208_988_800_000...4_102_444_800_000, using: &generator) / 1_000 * 1_000 }
        var mismatches: [Int64] = []
        for milliseconds in instants {
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1_000))
            let (day, clock) = (expected.prefix(10), expected.dropFirst(11))
            if ChinaTime.iso8601(milliseconds: milliseconds) != expected + "+08:00"
                || ChinaTime.format(milliseconds: milliseconds) != "\(day) \(clock) +08:00"
                || ChinaTime.minute(milliseconds: milliseconds) != "\(day) \(clock.prefix(5))"
                || ChinaTime.hourMinute(milliseconds: milliseconds) != String(clock.prefix(5)) { mismatches.append(milliseconds) }
        }
        #expect(mismatches.isEmpty)
    }
}

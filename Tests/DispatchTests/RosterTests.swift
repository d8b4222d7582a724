import DispatchPlugin
import Foundation
import XunfangTestSupport
import Testing
import XunfangGeo
import XunfangPluginKit

@Suite("County roster")
struct RosterTests {
    let file = """
    call_sign,kind,home_station,capabilities,crew,shift
    C101,car,510000-01-01,armed;traffic,3,night
    M7,motorcycle,510000-02-01
    # the drone team
    UAV-1,drone,510000,,1,
    """

    @Test("a roster CSV gives units with their kinds, capabilities, crews and shifts")
    func parse() throws {
        let units = try Roster.parse(csv: file)
        #expect(units.map(\.callSign) == ["C101", "M7", "UAV-1"])
        #expect(units[0].kind == .car && units[0].capabilities == ["armed", "traffic"] && units[0].crew == 3 && units[0].shift == "night")
        #expect(units[1].kind == .motorcycle && units[1].capabilities.isEmpty && units[1].crew == 2 && units[1].shift == "day")
        #expect(units[2].kind == .drone && units[2].crew == 1 && units[2].homeStation == "510000")
    }

    @Test("a bad roster line is refused, naming the line and the reason", arguments: [
        ("C1,tank,S1", "line 1 (C1): kind \"tank\""),
        ("C1,car,S1\nC1,foot,S2", "line 2: call sign C1 appears twice"),
        ("C 1,car,S1", "line 1: call sign \"C 1\""),
        ("C1,car", "line 1: expected"),
        ("C1,car,S1,,0", "line 1 (C1): crew \"0\""),
        ("C1,car,", "home_station is required"),
        ("call_sign,kind,home_station\n", "no units"),
    ])
    func refuses(text: String, expected: String) {
        do {
            _ = try Roster.parse(csv: text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test("merging keeps status and position, takes the roster's fields, adds new units and keeps unlisted ones")
    func merge() throws {
        var known = Unit(callSign: "C101", kind: .car, homeStation: "old", status: .enRoute, position: GeoPoint(longitude: 104.28, latitude: 30.97))
        known.incidentID = "INC-000001"
        let gone = Unit(callSign: "X9", kind: .foot, homeStation: "S9")
        let (units, unlisted) = Roster.merge(stored: [known, gone], roster: try Roster.parse(csv: file))
        let merged = try #require(units.first { $0.callSign == "C101" })
        #expect(merged.status == .enRoute && merged.position == known.position && merged.incidentID == "INC-000001")
        #expect(merged.homeStation == "510000-01-01" && merged.crew == 3 && merged.capabilities == ["armed", "traffic"])
        #expect(Set(units.map(\.callSign)) == ["C101", "M7", "UAV-1", "X9"] && unlisted == ["X9"])
    }

    @Test("DISPATCH_ROSTER replaces the demo roster in an empty store; a bad file stops the plugin with the reason")
    func setting() throws {
        let directory = temporaryDirectory()
        try file.write(toFile: directory + "/roster.csv", atomically: true, encoding: .utf8)
        _ = try DispatchPlugin(context: PluginContext(instance: "dispatch", dataDirectory: directory,
                                                      settings: ["DISPATCH_ROSTER": directory + "/roster.csv"], logger: quiet))
        #expect(try openStore(directory).load().units.map(\.callSign).sorted() == ["C101", "M7", "UAV-1"])
        try "C1,tank,S1".write(toFile: directory + "/bad.csv", atomically: true, encoding: .utf8)
        do {
            _ = try DispatchPlugin(context: PluginContext(instance: "dispatch", dataDirectory: temporaryDirectory(),
                                                          settings: ["DISPATCH_ROSTER": directory + "/bad.csv"], logger: quiet))
            Issue.record("started with a bad roster")
        } catch let error as DispatchError {
            #expect(error.message.contains("bad.csv") && error.message.contains("line 1"))
        }
    }
}

@Suite("Dispatch county settings")
struct DispatchSettingsTests {
    func context(_ settings: [String: String]) -> PluginContext {
        PluginContext(instance: "dispatch", dataDirectory: NSTemporaryDirectory(), settings: settings, logger: quiet)
    }

    @Test("the ack timeout, pass-on cap, duplicate linking and return time come from the county's settings")
    func fromSettings() throws {
        let defaults = try DispatchPlugin.settings(context([:]))
        #expect(defaults.ackTimeoutMilliseconds == 30_000 && defaults.maxPassOns == 3 && defaults.duplicateRadiusMetres == 150)
        #expect(defaults.duplicateWindowMilliseconds == 15 * 60_000 && defaults.returnMilliseconds == 15 * 60_000)
        let county = try DispatchPlugin.settings(context([
            "DISPATCH_ACK_TIMEOUT_SECONDS": "45", "DISPATCH_MAX_PASS_ONS": "5", "DISPATCH_DUPLICATE_METRES": "300",
            "DISPATCH_DUPLICATE_MINUTES": "30", "DISPATCH_RETURN_MINUTES": "0",
        ]))
        #expect(county.ackTimeoutMilliseconds == 45_000 && county.maxPassOns == 5 && county.duplicateRadiusMetres == 300)
        #expect(county.duplicateWindowMilliseconds == 30 * 60_000 && county.returnMilliseconds == nil)
    }

    @Test("a setting out of range or not a number stops the plugin naming the key, the value and the range")
    func refused() {
        for (key, value, range) in [("DISPATCH_ACK_TIMEOUT_SECONDS", "2", "from 5 to 600"), ("DISPATCH_MAX_PASS_ONS", "many", "from 0 to 20"),
                                    ("DISPATCH_DUPLICATE_METRES", "-1", "from 0 to 5000"), ("DISPATCH_RETURN_MINUTES", "1e9", "from 0 to 240")] {
            do {
                _ = try DispatchPlugin.settings(context([key: value]))
                Issue.record("\(key)=\(value) was taken")
            } catch {
                #expect(error.message.hasPrefix("\(key) is \"\(value)\"; use ") && error.message.hasSuffix(range), "\(error.message)")
            }
        }
    }

    @Test("DISPATCH_DUPLICATE_METRES=0 links no call")
    func noLinking() throws {
        var settings = Dispatcher.Settings()
        settings.duplicateRadiusMetres = 0
        let subject = Dispatcher(settings: settings, clock: ManualClock())
        let point = GeoPoint(longitude: 104.28, latitude: 30.98)
        _ = try subject.intake(typeCode: "fight", source: .call110, location: point, report: "")
        #expect(try !subject.intake(typeCode: "fight", source: .call110, location: point, report: "").linked)
    }
}

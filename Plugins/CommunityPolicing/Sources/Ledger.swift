import Foundation
import CommunityPolicingContract

/// The base ledgers (台账) as CSV, one team or member a line after a header:
///
///     id,name,kind,level,station_id,grid_id
///     T-0101,城东北红袖标队,red-armband,township,510000-01-01,
///
///     id,team_id,role,road_segments,hours,case_types,skills,reliability,name,phone
///     M-000001,T-0101,patroller,1001-1002;1002-1003,1-5@07:00-11:00;6@19:00-22:00,theft;burglary,first-aid,0.8,张三,13800000000
///
/// Lists inside a field are separated by `;`. Hours are China time: a day 1 (Monday) to 7
/// or a range of days (`1-5`, a slot each day), then `@HH:MM-HH:MM`. Case types are the
/// ones a member watches for (Dispatch's codes); none means every type. A UTF-8 byte-order
/// mark (spreadsheets write one) is skipped.
/// Parsing is pure and names every bad line; nothing is kept from a ledger with one.
enum Ledger {
    static let maxCSVBytes = 3 * 1_024 * 1_024
    static let maxTeams = 10_000
    static let maxMembers = 100_000
    static let teamHeader = "id,name,kind,level,station_id,grid_id"
    static let memberHeader = "id,team_id,role,road_segments,hours,case_types,skills,reliability,name,phone"

    static let kinds: [String: Xunfang_Community_V1_TeamKind] = [
        "red-armband": .redArmband, "volunteer-police": .volunteerPolice, "joint-defence": .jointDefence,
        "security-guards": .securityGuards, "information-officers": .informationOfficers, "full-time-patrol": .fullTimePatrol,
    ]
    static let levels: [String: Xunfang_Community_V1_TeamLevel] = ["county": .county, "township": .township, "village": .village]
    static let roles: [String: Xunfang_Community_V1_MemberRole] = ["patroller": .patroller, "leader": .leader, "information-officer": .informationOfficer]

    /// A member with the personal fields the ledger carries beside them.
    struct MemberRow: Equatable {
        var member: Xunfang_Community_V1_Member
        var name: String
        var phone: String
    }

    typealias LineError = Xunfang_Community_V1_LineError

    /// A ledger refused: every bad line, numbered.
    struct Rejection: Error, Equatable {
        let errors: [LineError]
    }

    static func teams(csv: String, maxBytes: Int = maxCSVBytes) -> Result<[Xunfang_Community_V1_Team], Rejection> {
        var teams: [Xunfang_Community_V1_Team] = [], seen: Set<String> = []
        let errors = rows(csv, header: teamHeader, fields: 6, limit: maxTeams, maxBytes: maxBytes) { fields in
            var team = Xunfang_Community_V1_Team()
            team.id = try identifier(fields[0], "id")
            guard seen.insert(team.id).inserted else { throw LineFault("team \(team.id) appears twice") }
            guard (1...64).contains(fields[1].count) else { throw LineFault("name must be 1 to 64 characters") }
            team.name = fields[1]
            team.kind = try named(fields[2], in: kinds, "kind")
            team.level = try named(fields[3], in: levels, "level")
            team.stationID = try identifier(fields[4], "station_id")
            team.gridID = try fields[5].isEmpty ? "" : identifier(fields[5], "grid_id")
            teams.append(team)
        }
        return errors.isEmpty ? .success(teams) : .failure(Rejection(errors: errors))
    }

    /// Members of `teams` (the ones known, this ledger may not add any).
    static func members(csv: String, teams: Set<String>, maxBytes: Int = maxCSVBytes) -> Result<[MemberRow], Rejection> {
        var members: [MemberRow] = [], seen: Set<String> = []
        let errors = rows(csv, header: memberHeader, fields: 10, limit: maxMembers, maxBytes: maxBytes) { fields in
            var member = Xunfang_Community_V1_Member()
            member.id = try identifier(fields[0], "id")
            guard seen.insert(member.id).inserted else { throw LineFault("member \(member.id) appears twice") }
            member.teamID = try identifier(fields[1], "team_id")
            guard teams.contains(member.teamID) else { throw LineFault("team \(member.teamID) is not in the teams ledger") }
            member.role = try named(fields[2], in: roles, "role")
            member.roadSegments = try list(fields[3], "road_segments", most: 50).map(segment)
            member.hours = try list(fields[4], "hours", most: 28).flatMap(slots)
            guard member.hours.count <= 28 else { throw LineFault("hours make \(member.hours.count) daily slots; at most 28") }
            member.weeklyHours = weeklyHours(member.hours)
            member.caseTypes = try list(fields[5], "case_types", most: 20).map { try identifier($0, "case type") }
            member.skills = try list(fields[6], "skills", most: 20)
            guard member.skills.allSatisfy({ $0.count <= 32 }) else { throw LineFault("a skill is longer than 32 characters") }
            if fields[7].isEmpty {
                member.reliability = 0.5
            } else {
                guard let value = Double(fields[7]), (0...1).contains(value) else { throw LineFault("reliability \"\(fields[7])\" must be 0 to 1") }
                member.reliability = value
            }
            guard fields[8].count <= 64 else { throw LineFault("name is longer than 64 characters") }
            let phone = fields[9]
            guard phone.isEmpty || ((5...20).contains(phone.count) && phone.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "+" || $0 == "-") })) else {
                throw LineFault("phone \"\(phone)\" must be 5 to 20 digits, + or -")
            }
            member.contactKept = !fields[8].isEmpty || !phone.isEmpty
            members.append(MemberRow(member: member, name: fields[8], phone: phone))
        }
        return errors.isEmpty ? .success(members) : .failure(Rejection(errors: errors))
    }

    static func csv(_ teams: [Xunfang_Community_V1_Team]) -> String {
        let kindNames = Dictionary(uniqueKeysWithValues: kinds.map { ($1, $0) }), levelNames = Dictionary(uniqueKeysWithValues: levels.map { ($1, $0) })
        return ([teamHeader] + teams.map { team in
            [team.id, team.name, kindNames[team.kind] ?? "", levelNames[team.level] ?? "", team.stationID, team.gridID].joined(separator: ",")
        }).joined(separator: "\n") + "\n"
    }

    /// Members without their personal fields: the export is for ledgers kept elsewhere.
    static func csv(_ members: [Xunfang_Community_V1_Member]) -> String {
        let roleNames = Dictionary(uniqueKeysWithValues: roles.map { ($1, $0) })
        return ([memberHeader] + members.map { member in
            let hours = member.hours.map(text).joined(separator: ";")
            return [member.id, member.teamID, roleNames[member.role] ?? "", member.roadSegments.joined(separator: ";"), hours,
                    member.caseTypes.joined(separator: ";"), member.skills.joined(separator: ";"), "\(member.reliability)", "", ""].joined(separator: ",")
        }).joined(separator: "\n") + "\n"
    }

    /// Every bad line of a whole ledger file, however large (none: it imports).
    static func check(teams csv: String) -> [LineError] {
        if case .failure(let rejection) = teams(csv: csv, maxBytes: .max) { return rejection.errors }
        return []
    }

    static func check(members csv: String, teams known: Set<String>) -> [LineError] {
        if case .failure(let rejection) = members(csv: csv, teams: known, maxBytes: .max) { return rejection.errors }
        return []
    }

    /// A ledger cut at line ends into parts of at most `maxBytes`, each with the header.
    static func parts(_ csv: String, maxBytes: Int) -> [String] {
        var lines = withoutMark(csv).split(separator: "\n", omittingEmptySubsequences: true)
        guard !lines.isEmpty else { return [] }
        let header = String(lines.removeFirst()) + "\n"
        var parts: [String] = [], current = header
        for line in lines {
            if current.utf8.count + line.utf8.count + 1 > maxBytes && current != header {
                parts.append(current)
                current = header
            }
            current += line + "\n"
        }
        if current != header { parts.append(current) }
        return parts
    }

    /// The ledger without the UTF-8 byte-order mark spreadsheets put before the header.
    static func withoutMark(_ csv: String) -> Substring {
        csv.hasPrefix("\u{FEFF}") ? csv.dropFirst() : Substring(csv)
    }

    static func weeklyHours(_ slots: [Xunfang_Community_V1_WeeklySlot]) -> Double {
        slots.reduce(0) { $0 + Double($1.endMinute - $1.startMinute) / 60 }
    }

    // MARK: - Fields

    struct LineFault: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// Runs `row` on every line after the header, collecting each line's fault (at most
    /// 100 named, then a count).
    static func rows(_ csv: String, header: String, fields count: Int, limit: Int, maxBytes: Int, _ row: ([String]) throws -> Void) -> [LineError] {
        var errors: [LineError] = []
        func fail(_ line: Int, _ message: String) {
            var error = LineError()
            error.line = UInt32(line)
            error.message = message
            errors.append(error)
        }
        guard csv.utf8.count <= maxBytes else {
            fail(0, "the ledger is \(csv.utf8.count) bytes; at most \(maxBytes) a call (split it: rows are added or replaced by id)")
            return errors
        }
        let lines = withoutMark(csv).split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        guard lines.first.map({ $0.trimmingCharacters(in: .whitespaces) }) == header else {
            fail(1, "the header must be \(header)")
            return errors
        }
        var rowCount = 0, bad = 0
        for (offset, line) in lines.enumerated().dropFirst() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            rowCount += 1
            guard rowCount <= limit else {
                fail(offset + 1, "more than \(limit) rows")
                break
            }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            do {
                guard fields.count == count else { throw LineFault("\(fields.count) fields; a line has \(count): \(header)") }
                guard !fields.contains(where: { $0.contains("\"") }) else { throw LineFault("quotes are not allowed in a field") }
                try row(fields)
            } catch {
                bad += 1
                if bad <= 100 { fail(offset + 1, (error as? LineFault)?.message ?? "\(error)") }
            }
        }
        if bad > 100 { fail(0, "\(bad - 100) more bad lines") }
        if rowCount == 0 && errors.isEmpty { fail(2, "the ledger has no rows") }
        return errors
    }

    static func identifier(_ text: String, _ field: String) throws -> String {
        guard (1...64).contains(text.count), text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw LineFault("\(field) \"\(text)\" must be 1 to 64 letters, digits, - or _")
        }
        return text
    }

    static func named<Value>(_ text: String, in table: [String: Value], _ field: String) throws -> Value {
        guard let value = table[text] else { throw LineFault("\(field) \"\(text)\" is not one of \(table.keys.sorted().joined(separator: ", "))") }
        return value
    }

    private static func list(_ text: String, _ field: String, most: Int) throws -> [String] {
        let items = text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard items.count <= most else { throw LineFault("\(field) has \(items.count) entries; at most \(most)") }
        return items
    }

    /// GridModel's road segment id: two node ids, the smaller first.
    private static func segment(_ text: String) throws -> String {
        let ends = text.split(separator: "-", omittingEmptySubsequences: false)
        guard ends.count == 2, let a = Int64(ends[0]), let b = Int64(ends[1]), a < b else {
            throw LineFault("road segment \"\(text)\" must be <node>-<node>, the smaller id first")
        }
        return text
    }

    /// One slot a day of the entry's days.
    private static func slots(_ text: String) throws -> [Xunfang_Community_V1_WeeklySlot] {
        let fault = LineFault("hours \"\(text)\" must be DAY@HH:MM-HH:MM (days 1 to 7, or a range such as 1-5)")
        let parts = text.split(separator: "@")
        guard parts.count == 2 else { throw fault }
        let days = parts[0].split(separator: "-", omittingEmptySubsequences: false).map { UInt32($0) }
        let times = parts[1].split(separator: "-", omittingEmptySubsequences: false).map { minutes(String($0)) }
        guard (1...2).contains(days.count), let first = days.first!, let last = days.last!, 1 <= first, first <= last, last <= 7,
              times.count == 2, let start = times[0], let end = times[1], start < end else { throw fault }
        return (first...last).map { day in
            var slot = Xunfang_Community_V1_WeeklySlot()
            slot.day = day
            slot.startMinute = start
            slot.endMinute = end
            return slot
        }
    }

    private static func minutes(_ text: String) -> UInt32? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let hours = UInt32(parts[0]), let minutes = UInt32(parts[1]), minutes < 60, hours < 24 || (hours == 24 && minutes == 0) else { return nil }
        return hours * 60 + minutes
    }

    static func text(_ slot: Xunfang_Community_V1_WeeklySlot) -> String {
        func clock(_ minutes: UInt32) -> String { String(format: "%02d:%02d", minutes / 60, minutes % 60) }
        return "\(slot.day)@\(clock(slot.startMinute))-\(clock(slot.endMinute))"
    }

}

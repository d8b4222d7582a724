import DispatchContract

/// What Dispatch must be told so its units' availability follows the roster: a rostered
/// unit on shift but off duty comes on (available); a rostered unit off shift that is free
/// (available, returning, out of service) goes off duty. A busy unit (ordered, en route, on
/// scene) finishes its incident first and goes off at a later pass; units with no team are
/// the county's own business and are left alone.
enum DutySync {
    static let free: Set<Xunfang_Dispatch_V1_UnitStatus> = [.available, .returning, .outOfService]

    static func changes(units: [Xunfang_Dispatch_V1_Unit], onDuty: Set<String>, rostered: Set<String>) -> [(callSign: String, status: Xunfang_Dispatch_V1_UnitStatus)] {
        units.filter { rostered.contains($0.callSign) }.compactMap { unit in
            if onDuty.contains(unit.callSign) {
                return unit.status == .offDuty ? (unit.callSign, .available) : nil
            }
            return free.contains(unit.status) ? (unit.callSign, .offDuty) : nil
        }
    }
}

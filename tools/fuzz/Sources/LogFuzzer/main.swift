import XunfangBusServer

/// libFuzzer entry: the input is a durable-log segment file, as a crash, a bad disk or a
/// hand would leave it (the seeds are real segments; libFuzzer flips, cuts and splices).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    LogSalvage.checkScanInvariants(Array(UnsafeBufferPointer(start: start, count: count)))
    return 0
}

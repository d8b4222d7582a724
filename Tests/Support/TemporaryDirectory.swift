import Foundation

/// A new empty directory under the system's temporary directory, `<prefix>-<8 hex>`.
public func temporaryDirectory(_ prefix: String = "xf") -> String {
    let path = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

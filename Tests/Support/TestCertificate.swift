import Foundation

/// Test certificates, made with Debian's openssl for the test that needs them.
public enum TestCertificate {
    public struct Failed: Error, CustomStringConvertible {
        public let description: String
    }

    /// A self-signed certificate for localhost and 127.0.0.1, valid a day: the PEM paths
    /// `<directory>/<name>.crt` and `<directory>/<name>.key`.
    public static func make(in directory: String, name: String = "server") throws -> (certificate: String, key: String) {
        let certificate = "\(directory)/\(name).crt", key = "\(directory)/\(name).key"
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                             "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=localhost",
                             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw Failed(description: "openssl could not make a test certificate (status \(openssl.terminationStatus))") }
        return (certificate, key)
    }
}

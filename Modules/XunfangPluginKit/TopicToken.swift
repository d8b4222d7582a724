/// Topic names built from data.
public enum Topic {
    /// A name (a call sign, a checkpoint id) as one topic token: the separator, the
    /// wildcards and spaces become "_", so a name never spans tokens or widens a subject.
    public static func token(_ text: String) -> String {
        String(text.map { $0 == "." || $0 == "*" || $0 == ">" || $0 == " " ? "_" : $0 })
    }
}

import Foundation
import Hummingbird

extension Date {
    /// An ISO 8601 time as providers and clients write it, with or without fractions of a second.
    public init?(iso8601 text: String) {
        guard
            let date = (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
                ?? (try? Date.ISO8601FormatStyle().parse(text))
        else { return nil }
        self = date
    }

    /// `2026-12-01`: the UTC day this instant falls in.
    public var utcDayLabel: String {
        formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!).year().month().day())
    }
}

extension Request {
    /// The query's parameters by name; the last of a repeated name wins.
    public var queryValues: [String: String] {
        Dictionary(uri.queryParameters.map { (String($0.key), String($0.value)) }, uniquingKeysWith: { $1 })
    }
}

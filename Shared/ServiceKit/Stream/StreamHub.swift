import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// What a stream's writer receives: an event to send, or the moment for a keep-alive comment.
enum StreamItem: Sendable {
    case event(StreamEvent)
    case keepAlive
}

/// This process's open streams, fed from Postgres: one connection listens on `StreamEvents.channel`, reads each
/// announced event once and hands it to every stream allowed to see it. A stream whose client reads too slowly to
/// keep up with `buffer` events is closed (the client reconnects with `Last-Event-ID`), never buffered without bound.
public final class StreamHub: Service, Sendable {
    public struct Limits: Sendable {
        /// Streams this process serves at once (`STREAM_MAX_CONNECTIONS`).
        public var connections = 10_000
        /// Streams one user may hold open at once.
        public var perUser = 5
        /// Events waiting for one slow client before it is dropped.
        public var buffer = 256
        public var keepAlive: Duration = .seconds(15)

        public init() {}
    }

    struct Subscriber {
        var userID: String
        var admin: Bool
        var continuation: AsyncStream<StreamItem>.Continuation
    }

    let postgres: PostgresClient
    let logger: Logger
    public let limits: Limits
    private let subscribers = Mutex<[UUID: Subscriber]>([:])

    public init(postgres: PostgresClient, logger: Logger, limits: Limits = Limits()) {
        self.postgres = postgres
        self.logger = logger
        self.limits = limits
    }

    /// Opens a stream for the user, or nil when this process or the user already has as many as allowed.
    func subscribe(userID: String, admin: Bool) -> (id: UUID, items: AsyncStream<StreamItem>)? {
        let (items, continuation) = AsyncStream.makeStream(of: StreamItem.self, bufferingPolicy: .bufferingOldest(limits.buffer))
        let id = UUID()
        let added = subscribers.withLock { subscribers in
            guard subscribers.count < limits.connections, subscribers.values.count(where: { $0.userID == userID }) < limits.perUser else {
                return false
            }
            subscribers[id] = Subscriber(userID: userID, admin: admin, continuation: continuation)
            return true
        }
        guard added else { return nil }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        return (id, items)
    }

    func unsubscribe(_ id: UUID) {
        _ = subscribers.withLock { $0.removeValue(forKey: id) }
    }

    /// Ends one stream (its writer sends what it holds and closes).
    func finish(_ id: UUID) {
        subscribers.withLock { $0.removeValue(forKey: id) }?.continuation.finish()
    }

    /// Hands events to the streams that may see them; a stream whose buffer is full is closed.
    func dispatch(_ events: [StreamEvent]) {
        let overflowing = subscribers.withLock { subscribers in
            var overflowing: [AsyncStream<StreamItem>.Continuation] = []
            for (id, subscriber) in subscribers {
                for event in events where event.isVisible(to: subscriber.userID, admin: subscriber.admin) {
                    if case .dropped = subscriber.continuation.yield(.event(event)) {
                        overflowing.append(subscriber.continuation)
                        subscribers[id] = nil
                        break
                    }
                }
            }
            return overflowing
        }
        for continuation in overflowing { continuation.finish() }
        if !overflowing.isEmpty { logger.warning("slow stream clients dropped", metadata: ["count": "\(overflowing.count)"]) }
    }

    func keepAlive() {
        subscribers.withLock { subscribers in
            for subscriber in subscribers.values { subscriber.continuation.yield(.keepAlive) }
        }
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.listen() }
            group.addTask {
                // Keep-alives, and pruning of events older than the retention once an hour.
                var ticks = 0
                while !Task.isCancelled {
                    try? await Task.sleep(for: self.limits.keepAlive)
                    self.keepAlive()
                    ticks += 1
                    if ticks % 240 == 1 { try? await StreamEvents.prune(postgres: self.postgres, logger: self.logger) }
                }
            }
            try? await gracefulShutdown()
            // Open streams end, so their clients reconnect to a replica that stays.
            for subscriber in subscribers.withLock({ $0.values.map(\.continuation) }) { subscriber.finish() }
            group.cancelAll()
        }
    }

    func listen() async {
        while !Task.isCancelled {
            do {
                try await postgres.withConnection { connection in
                    try await connection.listen(on: StreamEvents.channel) { notifications in
                        for try await notification in notifications {
                            guard let id = Int64(notification.payload) else { continue }
                            dispatch(try await StreamEvents.events([id], postgres: postgres, logger: logger))
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.error("stream hub lost its connection", metadata: ["error": .string(String(reflecting: error))])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}

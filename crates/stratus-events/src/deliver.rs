//! Delivery of a payload to any target: a function (asynchronous
//! invocation), a queue, a topic or a bus. Used by destinations, topic
//! subscriptions and rule targets.

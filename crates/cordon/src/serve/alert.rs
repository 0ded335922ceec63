//! Alert delivery (being written).

//! What the benchmarks and the tests both need: the synthetic catalogue
//! (`catalogue_data`). The load generator itself is the `bench-tool`
//! binary beside this library.

pub mod catalogue_data;

//! Compiles ../../proto with protox (a Rust protobuf compiler), so building
//! needs no system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = "../../proto";
    let files = ["analytics/v1/event.proto", "telemetry/v1/job_event.proto"];
    for f in &files {
        println!("cargo:rerun-if-changed={root}/{f}");
    }
    let descriptors = protox::compile(files, [root])?;
    prost_build::compile_fds(descriptors)?;
    Ok(())
}

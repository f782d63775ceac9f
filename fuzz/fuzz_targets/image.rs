#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| idp::fuzzing::image(data));

//! UniFFI's bindings generator, built from the same `uniffi` version as the library so the
//! generated Kotlin, Swift or Python always matches its scaffolding.

fn main() {
    uniffi::uniffi_bindgen_main()
}

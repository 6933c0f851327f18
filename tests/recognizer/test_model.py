import pytest
import timm
import torch

from crnn.config.train import InputConfig, ModelConfig
from crnn.recognizer.model import CRNN


@pytest.mark.parametrize(
    ("backbone", "out_indices", "steps"),
    [("resnet18", [2], 28), ("mobilenetv3_small_100", [1], 56)],
)
def test_shapes_for_two_backbones(backbone, out_indices, steps):
    inp = InputConfig(height=48, width=224)
    model = CRNN(
        ModelConfig(backbone=backbone, out_indices=out_indices, neck_channels=32, rnn_hidden=32),
        inp,
    )
    assert model.time_steps == steps
    out = model(torch.zeros(3, 1, 48, 224))
    assert out.shape == (3, steps, len(inp.charset) + 1)


def test_rnn_input_size_is_derived():
    model = CRNN(ModelConfig(neck_channels=40, rnn="lstm"), InputConfig())
    assert model.rnn.input_size == 40
    assert isinstance(model.rnn, torch.nn.LSTM)


def test_too_few_time_steps_is_a_build_error():
    # 96 px wide at stride 8 gives 12 steps: too few for 13 digits, let alone '0011...' repeats.
    with pytest.raises(ValueError, match="time steps"):
        CRNN(ModelConfig(out_indices=[2]), InputConfig(width=96))
    # 13 digits need 25 steps in the worst case; 200 px / 8 = 25 is just enough.
    assert CRNN(ModelConfig(out_indices=[2]), InputConfig(width=200)).time_steps == 25


def test_pretrained_weights_from_local_file(tmp_path):
    ref = timm.create_model("resnet18", in_chans=1)
    torch.nn.init.constant_(ref.layer1[0].conv1.weight, 0.0123)
    path = tmp_path / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    model = CRNN(ModelConfig(pretrained=True, pretrained_path=str(path)), InputConfig())
    loaded = dict(model.backbone.named_parameters())["layer1.0.conv1.weight"]
    assert torch.allclose(loaded, torch.full_like(loaded, 0.0123))


def test_pretrained_without_file_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="pretrained_path"):
        CRNN(ModelConfig(pretrained=True), InputConfig())
    with pytest.raises(ValueError, match="not found"):
        CRNN(ModelConfig(pretrained=True, pretrained_path=str(tmp_path / "nope.pth")), InputConfig())


def test_the_network_exports_to_onnx_with_the_same_output(tmp_path):
    import numpy as np

    from crnn.reading.crops import ort_session
    from crnn.recognizer.export import to_onnx

    model = CRNN(ModelConfig(neck_channels=16, rnn_hidden=16), InputConfig(height=32))
    model.eval()
    x = torch.rand(3, 1, 32, 128)
    to_onnx(model, x[:1], tmp_path / "m.onnx", "logits", 17, {"crnn.test": "1"})
    got = ort_session(tmp_path / "m.onnx").run(None, {"images": x.numpy()})[0]
    with torch.no_grad():
        want = model(x).numpy()
    assert got.shape == (3, 32, 11)
    np.testing.assert_allclose(got, want, atol=1e-4)

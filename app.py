"""lyricdemo: the Gradio app. Builds the Blocks and launches; nothing else."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio builds any Blocks

import gradio as gr  # noqa: E402

from lyricdemo.corpus import have_default_corpus, missing_corpus_message  # noqa: E402


def build() -> gr.Blocks:
    with gr.Blocks(title="lyricdemo") as demo:
        gr.Markdown("# lyricdemo — 歌词 RNN 教学演示\nThe four tabs arrive with the app issue.")
        if not have_default_corpus():
            gr.Markdown(missing_corpus_message())
    return demo


if __name__ == "__main__":
    build().queue().launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )

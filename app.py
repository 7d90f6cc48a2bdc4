"""lyricdemo: the Gradio app. Builds the Blocks and launches; nothing else.

    python app.py            # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT change it)
"""

import os
import time

T0 = time.perf_counter()
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio builds any Blocks
# Many requests share the cores: idle OpenMP threads sleep instead of spinning (before torch loads).
# Measured on 2 cores: two spinning 2-thread computations drop training from ~10k to ~0.6k tokens/s.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from lyricdemo.ui import build_app, launch_kwargs, prepare_server, queue_kwargs, warm_up  # noqa: E402

if __name__ == "__main__":
    prepare_server()          # limits checked (a wrong one stops here, named), torch threads set
    demo = build_app()
    built = time.perf_counter() - T0
    demo.queue(**queue_kwargs()).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        prevent_thread_lock=True,
        **launch_kwargs(),
    )
    print(f"lyricdemo: built in {built:.1f} s, serving after {time.perf_counter() - T0:.1f} s", flush=True)
    warm_up()
    demo.block_thread()

"""``python -m devtools.local_model ARGS``: llama.cpp's server with Runwire's chat format.

``ARGS`` are ``python -m llama_cpp.server`` arguments; ``LocalModelServer`` starts this.
"""

import sys

from devtools.local_model.chat_format import serve_llama

serve_llama(sys.argv[1:])

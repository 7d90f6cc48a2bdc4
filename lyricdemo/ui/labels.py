"""Every label and one-line explanation of the app, in English and Chinese.

A projector in a classroom shows both languages at once, so a label is
``"English / 中文"`` and its ``info`` line says in one sentence, in both languages,
what the control does.  ``kw("hidden")`` gives ``label=`` and ``info=`` for a
component; ``T[...]`` holds the other texts.
"""

from __future__ import annotations

# key -> (label, info); info "" when the label says it all
CONTROLS: dict[str, tuple[str, str]] = {
    # -- tab 1: corpus and vocabulary ------------------------------------------------
    "source": ("Corpus / 语料",
               "The d2l Jay Chou lyrics in data/, or a UTF-8 text you upload. / "
               "data/ 中的 d2l 周杰伦歌词，或你上传的 UTF-8 文本。"),
    "upload": ("Upload a UTF-8 text (.txt, or a .zip with one .txt) / 上传 UTF-8 文本", ""),
    "clean": ("Cleaning / 清洗",
              "none: as is · d2l: drop ASCII punctuation (seed 000) · lyrics: keep Chinese, letters, digits, "
              "，。！？ and drop repeated lines (seed 004). / 不清洗 · d2l：去掉英文标点 · lyrics：只留中文、字母、数字和常用标点，去重。"),
    "tokenizer": ("Tokenizer / 分词方式",
                  "char: one token per character (d2l) · word: jieba words (seed 004). / "
                  "char：一个字一个词元 · word：jieba 分词。"),
    "newline": ("Line break becomes / 换行符变为",
                "token: each line ends with a ↵ token (the line is the unit of a lyric) · space: d2l's choice. / "
                "token：每行以 ↵ 词元结束 · space：换成空格（d2l 的做法）。"),
    "min_freq": ("Minimum frequency / 最小词频",
                 "Training tokens seen fewer times become <unk>. / 训练集中出现次数少于它的词元记为 <unk>。"),
    "unknown_words": ("A word below the minimum / 低频词",
                      "chars: spelled as its characters, so the model still predicts every character · unk: one "
                      "<unk> (d2l's way). Characters are the same either way. / chars：拆成单字，模型仍要预测每个字 · "
                      "unk：记为一个 <unk>（d2l 的做法）。按字切分时两者相同。"),
    "reserved": ("Reserved tokens / 保留词元",
                 "Special tokens with their own ids right after <unk> = 0. / 紧跟 <unk>=0 之后、有自己编号的特殊词元。"),
    "top_n": ("Top N tokens / 高频词元个数", ""),
    "first_line": ("Show lines from / 从第几行显示", "The tokenized view starts at this training line. / 分词展示从这一行开始。"),
    "lookup": ("Token or id / 词元或编号",
               "Type a token (e.g. 爱) or an id (e.g. 5); \\n is the line break. / 输入词元（如 爱）或编号（如 5）。"),
    # -- tab 2: training -------------------------------------------------------------
    "data": ("Training data / 训练数据",
             "d2l corpus · the file uploaded in tab 1 · the toy task hello→ohlol (seed 002). / "
             "d2l 语料 · 第 1 页上传的文件 · 玩具任务 hello→ohlol。"),
    "kind": ("Model / 模型",
             "RNN: one tanh layer · GRU: reset and update gates · LSTM: a memory cell with input, forget and "
             "output gates. / RNN：简单循环 · GRU：重置门和更新门 · LSTM：带输入、遗忘、输出门的记忆单元。"),
    "impl": ("Implementation / 实现",
             "torch.nn: fused and fast · scratch: the cells written out step by step (slower, same math). / "
             "torch.nn：融合实现，快 · scratch：从零逐步实现（慢，数学相同）。"),
    "input": ("Input / 输入表示",
              "one-hot: a vector of V zeros with one 1 (d2l) · embedding: a learned dense vector per token. / "
              "独热：V 维向量中只有一个 1 · 嵌入：每个词元一个可学习的稠密向量。"),
    "embed_dim": ("Embedding size / 嵌入维度", "Length of each token's vector (embedding input only). / 每个词元向量的长度。"),
    "hidden": ("Hidden size / 隐藏单元数",
               "Units in each recurrent layer: more remember more and train slower. / 每层循环单元数：越多记得越多，训练越慢。"),
    "layers": ("Layers / 层数", "Stacked recurrent layers (deep RNN). / 堆叠的循环层数（深度循环网络）。"),
    "dropout": ("Dropout / 丢弃率",
                "Zeroes random outputs while training (and between layers): against memorizing. / "
                "训练时随机置零部分输出（以及层与层之间），防止死记硬背。"),
    "dropout_embed": ("Input dropout / 输入丢弃率", "Dropout on the input vectors. / 作用在输入向量上的丢弃率。"),
    "bidirectional": ("Bidirectional / 双向",
                      "Also reads the text backwards, i.e. reads the answer: see why a language model cannot. / "
                      "同时反向读文本，也就是偷看答案：看看为什么语言模型不能这样做。"),
    "sampling": ("Batch sampling / 采样方式",
                 "random: independent windows, fresh state per batch · sequential: consecutive windows, state carried "
                 "(d2l). / 随机采样：每批重置状态 · 顺序分区：状态跨批传递。"),
    "optimizer": ("Optimizer / 优化器",
                  "sgd: plain gradient steps (d2l, lr ≈ 1) · adam / adamw: adaptive steps (lr ≈ 0.002). / "
                  "sgd：普通梯度下降 · adam：自适应步长。"),
    "log_lr": ("Learning rate, log₁₀ / 学习率（以 10 为底的对数）",
               "−3 means 0.001, 0 means 1, 2 means 100 (with clipping off, watch it diverge): each step of 1 is "
               "×10. / −3 即 0.001，0 即 1，2 即 100（关掉裁剪看它发散），每加 1 乘以 10。"),
    "soft_targets": ("Soft targets from the bigram / 二元模型软目标",
                     "This share of each target is the bigram's guess of the next character instead of the one "
                     "that came: the network also learns what else could follow (on the lyrics 0.3 takes `train` "
                     "from 185 to 172, and 0.5 the classroom preset's 300 steps from 200 to 179; it hurts where the "
                     "network is far ahead of the bigram, as on the Tang poems; 0 = off, as d2l). / "
                     "训练目标的这一部分取自二元模型对下一个字的分布（歌词上有效；唐诗上有害；0 为关闭）。"),
    "weight_decay": ("Weight decay / 权重衰减",
                     "Pulls every weight toward zero at each step: a brake on memorizing the training lyrics "
                     "(AdamW 1.0 is our recipe; 0 = off, as d2l). / 每步把参数往零拉一点，抑制背歌词"
                     "（AdamW 取 1.0；0 为关闭，同 d2l）。"),
    "clip": ("Clip gradients / 梯度裁剪",
             "Rescale the gradient when its norm exceeds θ: stops exploding gradients. / 梯度范数超过 θ 时按比例缩小，防止梯度爆炸。"),
    "clip_theta": ("Clipping threshold θ / 裁剪阈值 θ", ""),
    "batch_size": ("Batch size / 批量大小", "Sequences per optimizer step. / 每步训练的序列条数。"),
    "num_steps": ("Time steps per sequence / 时间步数",
                  "Tokens per training sequence: backpropagation through time stops here. / 每条序列的词元数，即截断反向传播的长度。"),
    "max_steps": ("Max optimizer steps / 最多训练步数", "0 = no limit (the time budget still applies). / 0 表示不限。"),
    "max_seconds": ("Time budget, seconds / 时间预算（秒）", "The run stops after this long. / 训练到这个时长就停止。"),
    "eval_every": ("Evaluate every … steps / 每隔几步评估",
                   "Validation perplexity and samples are measured this often. / 每隔这么多步测一次验证困惑度并生成样例。"),
    "keep_best": ("Keep the best weights / 保留最佳权重",
                  "End with the weights of the best validation perplexity. / 训练结束时使用验证困惑度最好的权重。"),
    "seed": ("Seed / 随机种子", "Same seed, same run. / 种子相同，结果相同。"),
    "init_from": ("Start from / 起点",
                  "random weights, or a trained model's (fine-tuning: its architecture, its rows for the tokens both "
                  "vocabularies know; a lower learning rate suits it). / 随机初始化，或从已训练的模型开始（微调：沿用其结构"
                  "和共有词元的参数；宜用较低的学习率）。"),
    "max_tokens": ("Training tokens to use / 使用的训练词元数",
                   "0 = all; d2l used the first 10,000 characters. / 0 表示全部；d2l 只用了前 10,000 个字。"),
    "x_axis": ("Chart x axis / 横轴", ""),
    # -- tab 3: generation -----------------------------------------------------------
    "model": ("Model / 模型", "Shipped checkpoints and the models trained in this session. / 预训练模型和本次会话训练的模型。"),
    "checkpoint_upload": ("Checkpoint (.zip from tab 2) / 检查点（第 2 页下载的 .zip）",
                          "Safetensors + JSON only, checked before use; pickles are refused. It joins this session's "
                          "models. / 只接受 safetensors + JSON，使用前会检查；拒绝 pickle 文件。"),
    "prefix": ("Prefix / 前缀", "The model reads this, then continues it. / 模型先读这段文字，再接着写。"),
    "length": ("Length, tokens / 生成长度（词元）", ""),
    "strategy": ("Decoding / 解码策略",
                 "greedy: always the most likely token · sample: draw from the distribution · beam: keep the best "
                 "partial texts. / 贪心：总选最可能的 · 采样：按概率抽取 · 束搜索：保留最好的几条候选。"),
    "temperature": ("Temperature / 温度", "<1 sharper and safer, >1 flatter and wilder (sampling only). / 小于 1 更保守，大于 1 更随机。"),
    "top_k": ("Top-k", "Only the k most likely; 0 = off. / 只在前 k 个中抽，0 为关闭。"),
    "top_p": ("Top-p (nucleus)", "Only the likeliest holding mass p; 1 = off. / 累计概率 p 内抽取。"),
    "repetition_penalty": ("Repetition penalty / 重复惩罚", "Lowers tokens already used; 1 = off. / 降低已出现词元。"),
    "beam_width": ("Beam width / 束宽", "Partial texts kept (beam only). / 保留的候选数。"),
    "gen_seed": ("Seed / 随机种子", "Sampling with the same seed gives the same text. / 相同种子得到相同文本。"),
    "unknown": ("Unknown characters / 未知字符",
                "unk: read them as <unk> and say so · strict: refuse the prefix. / unk：当作 <unk> 并提示 · strict：拒绝。"),
    "song_memory": ("Song memory / 歌曲记忆",
                    "The model also remembers the text so far (prefix + what it wrote): a line seen before is "
                    "likely to come back, as a chorus does. Settings measured on the model card. / "
                    "模型同时记住前面的文字（前缀和已生成的），出现过的句子更可能再次出现，就像副歌。"),
    "mix_trigram": ("Mix in the trigram / 混合三元模型",
                    "Half the model, half the counts of its training text's three-token runs. Where they err "
                    "differently, together they beat both; the model info says whether they do for this model. / "
                    "一半模型、一半训练文本的三元计数。两者错的地方不同时，合起来胜过各自；是否如此见模型信息。"),
    "step": ("Step to inspect / 查看第几步", "Which generated token to open up. / 查看第几个生成的词元。"),
    # -- tab 4: look inside ----------------------------------------------------------
    "probe_text": ("Text to read / 要读的文本", "The model reads this and we watch its hidden state. / 模型读这段文字，我们观察它的隐状态。"),
    "layer": ("Layer / 层", ""),
    "all_units": ("All units / 全部单元",
                  "Every unit of the layer, each with its id, instead of the top 15 (a tall chart: scroll). / "
                  "显示这一层的全部单元及编号，而不只是前 15 个（图较高，可滚动）。"),
    "unit": ("Unit / 单元", "Colour the text by this unit's activation. / 按这个单元的激活给文字上色。"),
    "sort_units": ("Sort units by / 单元排序",
                   "variance: the busiest first · mean: most positive first · selection: those that fire at the "
                   "selected positions first. / 方差：变化最大的在前 · 均值：最正的在前 · 选中位置：在选中处激活的在前。"),
    "select_by": ("Select positions by / 按什么选位置",
                  "Every occurrence of a character or word, every line start or end, or positions like 0, 5, 9-12. / "
                  "某个字或词的每次出现、每个行首或行尾，或者像 0, 5, 9-12 这样的位置。"),
    "select_value": ("Character, word or positions / 字、词或位置",
                     "e.g. 我 · 你 · ↵ · 0, 5, 9-12 (not needed for line starts and ends). / 例如 我、你、0, 5, 9-12。"),
    "position": ("Position / 位置",
                 "The model has read up to here and predicts the next token: which earlier tokens did it use? / "
                 "模型读到这里并预测下一个词元：它用了前面的哪些词元？"),
    "export_format": ("Export as / 导出格式",
                      "HTML: a page of these plots that works offline (slides, handouts) · JSON: every number. / "
                      "HTML：可离线打开的图表网页 · JSON：全部数据。"),
}


def label(key: str) -> str:
    return CONTROLS[key][0]


def info(key: str) -> str | None:
    return CONTROLS[key][1] or None


def kw(key: str) -> dict:
    """``label=`` and ``info=`` for a component."""
    lab, inf = CONTROLS[key]
    return {"label": lab, "info": inf} if inf else {"label": lab}


T: dict[str, str] = {
    "title": "# lyricdemo · 歌词循环神经网络教学演示",
    "subtitle": ("Recurrent language models (RNN, GRU, LSTM) on the Jay Chou lyrics of *Dive into Deep Learning*: "
                 "tokenize, train live, generate, look inside. / 在《动手学深度学习》的周杰伦歌词上学习循环神经网络："
                 "分词、实时训练、生成、观察隐状态。"),
    # short: all four fit a phone's tab bar (390 px)
    "tab_vocab": "1 Tokens / 分词",
    "tab_train": "2 Train / 训练",
    "tab_generate": "3 Generate / 生成",
    "tab_inside": "4 Inside / 内部",
    "analyze": "Analyze / 分析",
    "lookup_btn": "Look up / 查询",
    "start": "Start training / 开始训练",
    "stop": "Stop / 停止",
    "clear": "Clear chart / 清空图表",
    "generate": "Generate / 生成",
    "probe": "Look inside / 查看",
    "find_units": "Find units that fire here / 找出在这里激活的单元",
    "full_matrix": "Full connectivity matrix (short texts) / 完整连接性矩阵（短文本）",
    "memory_section": "Song memory: what it remembered at this position / 歌曲记忆：这个位置记起了什么",
    "memory_btn": "Show the earlier positions it drew on / 显示它用到的前文位置",
    "full_matrix_btn": "Compute every position / 计算所有位置",
    "compare_btn": "Compare RNN · GRU · LSTM on this text / 在这段文本上比较三种模型",
    "export_section": "Data and export / 数据与导出",
    "export_btn": "Export / 导出",
    # section headings of tab 4: a title, then one line of help
    "sec_units": ("Units over time / 单元随时间的变化\nEach row is one unit of the layer, each column a token read; "
                  "red positive, blue negative. Hover for the character, unit and value. / "
                  "每行一个单元，每列一个读入的词元；红正蓝负。"),
    "sec_find": ("Find units that fire here / 找出在这里激活的单元\nSelect positions (every 我, every line start ...) "
                 "and rank the units that are high there and low elsewhere, as LSTMVis does. / "
                 "选择位置（每个“我”、每个行首……），找出在那里高、在别处低的单元。"),
    "sec_predictions": ("Predictions / 预测\nAfter each token: the five likeliest next tokens (the text's real next "
                        "token boxed), the entropy of the guess and the surprisal of the real one. / "
                        "每个词元之后：最可能的五个下一个词元（方框为实际的下一个）、熵与意外度。"),
    "sec_connectivity": ("Connectivity / 连接性（显著性）\nChoose a position: earlier tokens are shaded by how much they "
                         "changed the prediction made there (gradient norm, Distill 2019). / "
                         "选择一个位置：前面的词元按它们对该处预测的影响着色。"),
    "sec_saturation": ("Gate saturation / 门饱和度\nPer unit: how often each gate is nearly closed (<0.1) or open "
                       "(>0.9) on this text (Karpathy et al. 2015). / 每个单元的门几乎关闭或完全打开的时间比例。"),
    "sec_trajectory": ("State trajectory / 状态轨迹\nThe hidden state's path in 2-D (its first two principal "
                       "components), one point per token. / 隐状态在二维主成分平面上的轨迹，每个词元一个点。"),
    "sec_compare": ("RNN · GRU · LSTM side by side / 三种模型对比\nThe shipped models (or this session's) read the "
                    "same text: their busiest units and how surprised each is. / 预训练模型读同一段文本：最活跃的单元和各自的意外度。"),
    "refresh": "Refresh models / 刷新模型列表",
    "download": "Download checkpoint (.zip) / 下载检查点",
    "no_model": ("No model yet: no shipped checkpoint is installed and none was trained in this session. "
                 "Train one in tab 2 (it takes a minute). / 还没有模型：请在第 2 页训练一个（约一分钟）。"),
}

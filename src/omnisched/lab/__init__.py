"""The lab: what omnisched's own experiments are made of, built on the core library.

The eSpeak corpus (``synth``), the tiny Qwen2.5-Omni thinker (``tiny``), its tokenizer
(``tokenizer``) and pre-training (``pretrain``, ``generic``, ``alignment``), the shipped tiny
foundation (``foundation``, package data), the demo (``demo``), the studies (``study``) and
their settings (``settings``). The lab imports the core; the core never imports the lab.
"""

"""The published judge prompts, verbatim.

Copied exactly from the judges' public repositories (PandaLM: WeOpenML/PandaLM pandalm/utils/pandalm_inference.py;
Auto-J: GAIR-NLP/auto-j codes/usage/constants_prompt.py and zh_constants_prompt.py; Prometheus 2:
prometheus-eval/prometheus-eval libs/prometheus-eval/prometheus_eval/prompts.py). A judge only works well with the
prompt it was trained on, so not a character here may change; tests compare them with the reference text.
"""

from __future__ import annotations

__all__ = [
    "AUTOJ_PAIRWISE_EN",
    "AUTOJ_PAIRWISE_ZH",
    "AUTOJ_SINGLE_EN",
    "AUTOJ_SINGLE_ZH",
    "AUTOJ_WRAPPER",
    "PANDALM_WITHOUT_INPUT",
    "PANDALM_WITH_INPUT",
    "PROMETHEUS_ABSOLUTE",
    "PROMETHEUS_ABSOLUTE_WO_REF",
    "PROMETHEUS_ABS_SYSTEM",
    "PROMETHEUS_RELATIVE",
    "PROMETHEUS_RELATIVE_WO_REF",
    "PROMETHEUS_REL_SYSTEM",
    "PROMETHEUS_RUBRIC_TEMPLATE",
]

PANDALM_WITH_INPUT = 'Below are two responses for a given task. The task is defined by the Instruction with an Input that provides further context. Evaluate the responses and generate a reference answer for the task.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response 1:\n{response1}\n\n### Response 2:\n{response2}\n\n### Evaluation:\n'
"""PandaLM, with input."""

PANDALM_WITHOUT_INPUT = 'Below are two responses for a given task. The task is defined by the Instruction. Evaluate the responses and generate a reference answer for the task.\n\n### Instruction:\n{instruction}\n\n### Response 1:\n{response1}\n\n### Response 2:\n{response2}\n\n### Evaluation:\n'
"""PandaLM, without input (input empty)."""

AUTOJ_WRAPPER = '[INST] {input} [/INST]'
"""Auto-J wrapper."""

AUTOJ_PAIRWISE_EN = 'You are assessing two submitted responses on a given user\'s query and judging which response is better or they are tied. Here is the data:\n\n[BEGIN DATA]\n***\n[Query]: {prompt}\n***\n[Response 1]: {response}\n***\n[Response 2]: {response_another}\n***\n[END DATA]\n\nHere are the instructions to assess and compare the two responses:\n\n1. Pinpoint the key factors to distinguish these two responses.\n2. Conclude your comparison by providing a final decision on which response is better, or they are tied. Begin your final decision statement with "So, the final decision is Response 1 / Response 2 / Tie". Ensure that your decision aligns coherently with the comprehensive evaluation and comparison you\'ve provided.'
"""Auto-J pairwise (English)."""

AUTOJ_SINGLE_EN = 'Write critiques for a submitted response on a given user\'s query, and grade the response:\n  \n[BEGIN DATA]\n***\n[Query]: {prompt}\n***\n[Response]: {response}\n***\n[END DATA]\n\nWrite critiques for this response. After that, you should give a final rating for the response on a scale of 1 to 10 by strictly following this format: "[[rating]]", for example: "Rating: [[5]]".'
"""Auto-J single (English)."""

AUTOJ_PAIRWISE_ZH = '你将要评价两个针对给定用户问题的回应，并判断哪个回应胜出或两者持平。以下是相关内容:\n\n[BEGIN DATA]\n***\n[用户问询]: {prompt}\n***\n[回应1]: {response}\n***\n[回应2]: {response_another}\n***\n[END DATA]\n\n以下是评价并比较两个回应的指南：\n\n1. 确定区分两个回应的关键因素。\n2. 通过提供最终对何者胜出或两者持平的决定来总结你的比较和评价。最终决定语句应以"所以，最终决定是回应1/回应2/平局"开头。确保你的决定与你提供的综合的评价和比较一致。'
"""Auto-J pairwise (Chinese)."""

AUTOJ_SINGLE_ZH = '为上传的针对给定用户问题的回应撰写评论, 并为该回复打分:\n\n[BEGIN DATA]\n***\n[用户问询]: {prompt}\n***\n[回应]: {response}\n***\n[END DATA]\n\n为这个回应撰写评论. 在这之后, 你应该按照如下格式给这个回应一个最终的1-10范围的评分: "[[评分]]", 例如: "评分: [[5]]".'
"""Auto-J single (Chinese)."""

PROMETHEUS_ABS_SYSTEM = 'You are a fair judge assistant tasked with providing clear, objective feedback based on specific criteria, ensuring each assessment reflects the absolute standards set for performance.'
"""Prometheus ABS_SYSTEM_PROMPT."""

PROMETHEUS_REL_SYSTEM = 'You are a fair judge assistant assigned to deliver insightful feedback that compares individual performances, highlighting how each stands relative to others within the same cohort.'
"""Prometheus REL_SYSTEM_PROMPT."""

PROMETHEUS_ABSOLUTE = '###Task Description:\nAn instruction (might include an Input inside it), a response to evaluate, a reference answer that gets a score of 5, and a score rubric representing a evaluation criteria are given.\n1. Write a detailed feedback that assess the quality of the response strictly based on the given score rubric, not evaluating in general.\n2. After writing a feedback, write a score that is an integer between 1 and 5. You should refer to the score rubric.\n3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (an integer number between 1 and 5)"\n4. Please do not generate any other opening, closing, and explanations.\n\n###The instruction to evaluate:\n{instruction}\n\n###Response to evaluate:\n{response}\n\n###Reference Answer (Score 5):\n{reference_answer}\n\n###Score Rubrics:\n{rubric}\n\n###Feedback: '
"""Prometheus ABSOLUTE_PROMPT."""

PROMETHEUS_ABSOLUTE_WO_REF = '###Task Description:\nAn instruction (might include an Input inside it), a response to evaluate, and a score rubric representing a evaluation criteria are given.\n1. Write a detailed feedback that assess the quality of the response strictly based on the given score rubric, not evaluating in general.\n2. After writing a feedback, write a score that is an integer between 1 and 5. You should refer to the score rubric.\n3. The output format should look as follows: "(write a feedback for criteria) [RESULT] (an integer number between 1 and 5)"\n4. Please do not generate any other opening, closing, and explanations.\n\n###The instruction to evaluate:\n{instruction}\n\n###Response to evaluate:\n{response}\n\n###Score Rubrics:\n{rubric}\n\n###Feedback: '
"""Prometheus ABSOLUTE_PROMPT_WO_REF."""

PROMETHEUS_RELATIVE = '###Task Description:\nAn instruction (might include an Input inside it), two responses to evaluate (denoted as Response A and Response B), a reference answer, and an evaluation criteria are given.\n1. Write a detailed feedback that assess the quality of the two responses strictly based on the given evaluation criteria, not evaluating in general.\n2. Make comparisons between Response A, Response B, and the Reference Answer. Instead of examining Response A and Response B separately, go straight to the point and mention about the commonalities and differences between them.\n3. After writing the feedback, indicate the better response, either "A" or "B".\n4. The output format should look as follows: "Feedback: (write a feedback for criteria) [RESULT] (Either "A" or "B")"\n5. Please do not generate any other opening, closing, and explanations.\n\n###Instruction:\n{instruction}\n\n###Response A:\n{response_A}\n\n###Response B:\n{response_B}\n\n###Reference Answer:\n{reference_answer}\n\n###Score Rubric:\n{rubric}\n\n###Feedback: '
"""Prometheus RELATIVE_PROMPT."""

PROMETHEUS_RELATIVE_WO_REF = '###Task Description:\nAn instruction (might include an Input inside it), two responses to evaluate (denoted as Response A and Response B), and an evaluation criteria are given.\n1. Write a detailed feedback that assess the quality of the two responses strictly based on the given evaluation criteria, not evaluating in general.\n2. Make comparisons between Response A, Response B, and the Reference Answer. Instead of examining Response A and Response B separately, go straight to the point and mention about the commonalities and differences between them.\n3. After writing the feedback, indicate the better response, either "A" or "B".\n4. The output format should look as follows: "Feedback: (write a feedback for criteria) [RESULT] (Either "A" or "B")"\n5. Please do not generate any other opening, closing, and explanations.\n\n###Instruction:\n{instruction}\n\n###Response A:\n{response_A}\n\n###Response B:\n{response_B}\n\n###Score Rubric:\n{rubric}\n\n###Feedback: '
"""Prometheus RELATIVE_PROMPT_WO_REF."""

PROMETHEUS_RUBRIC_TEMPLATE = '[{criteria}]\nScore 1: {score1_description}\nScore 2: {score2_description}\nScore 3: {score3_description}\nScore 4: {score4_description}\nScore 5: {score5_description}'
"""Prometheus SCORE_RUBRIC_TEMPLATE."""
